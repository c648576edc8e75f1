"""Continue training one saved IMP ticket of the toric-code study under its mask (exact energies)."""
import json, sys, time
from pathlib import Path
import jax, numpy as np
from physlens.lens.mask import Mask, stack_masks
from physlens.quantum.masked_training import ExactProblem, train_masked
from physlens.studies.lottery import StudyConfig
study, level, steps, lr = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
config = StudyConfig.preset("toric-code")
problem = ExactProblem.of(config.build_system())
model = config.build_model()
folder = study / "levels" / f"level_{level:02d}"
like = model.init(jax.random.PRNGKey(0), np.ones((1, problem.n_sites)))["params"]
mask = Mask.load(folder / "imp_seed0.mask.npz", like=like)
with np.load(folder / "imp_seed0.params.npz") as npz:
    leaves = [npz[f"arr_{i}"] for i in range(len(npz.files))]
params = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(like), leaves)
params_K = jax.tree_util.tree_map(lambda x: np.asarray(x)[None], params)
t = time.time()
r = train_masked(model, problem, params_K, stack_masks([mask]), steps=steps, learning_rate=lr, chunk=config.chunk)
kernel = np.asarray(r.params_K["layers.0"]["kernel"][0])
out = {"level": level, "density": mask.density, "extra_steps": steps, "learning_rate": lr,
       "energy": float(r.energy_K[0]), "rel_error": float(r.rel_error_K[0]), "e0": problem.e0,
       "method": "exact full sum", "seconds": time.time() - t,
       "pruned_weights_zero": bool(np.all(kernel[~mask.leaves()["layers.0/kernel"]] == 0)),
       "history_every_25": [float(e) for e in r.history_TK[::25, 0]]}
np.savez(study / f"extended_level{level:02d}.npz", *[np.asarray(x[0]) for x in jax.tree_util.tree_leaves(r.params_K)])
(study / f"extended_level{level:02d}.json").write_text(json.dumps(out, indent=1))
print(json.dumps(out, indent=1))
