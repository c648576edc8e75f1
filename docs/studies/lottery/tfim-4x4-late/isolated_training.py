"""Provenance of the isolated-training table in ../RESULTS.md (4×4 TFIM, late-rewinding study).

Takes the IMP masks of `physlens prune tfim-4x4 --dense-steps 3000 --steps 1000 --rewind-step 3000
--fraction 0.2 --rounds 12 --controls all --lr 0.01 --out runs/lottery-late` at levels 3, 5 and 7,
and trains, from scratch and for 4,000 Adam steps (lr 0.01, exact energies), each seed's mask
from θ_0 (its own initialisation), from θ_rand (seed + 1000) and a random mask of the same
density from θ_0. Writes isolated_training.json beside this file.

    .venv/bin/python docs/studies/lottery/tfim-4x4-late/isolated_training.py runs/lottery-late
"""

import json
import sys
from pathlib import Path

import jax
import numpy as np

from physlens.lens.mask import Mask, stack_masks
from physlens.lens.pruning import random_mask_like
from physlens.quantum.masked_training import ExactProblem, init_params, make_energy_and_grad, train_masked
from physlens.studies.lottery import REINIT_OFFSET, StudyConfig

LEVELS, STEPS, LR = (3, 5, 7), 4000, 0.01

study = Path(sys.argv[1])
config = StudyConfig.preset("tfim-4x4")
problem, model = ExactProblem.of(config.build_system()), config.build_model()
energy_and_grad = make_energy_and_grad(model, problem, config.chunk, "map")
seeds = list(config.seeds)


def unstack(tree):
    return [jax.tree_util.tree_map(lambda leaf: np.asarray(leaf[k]), tree) for k in range(len(seeds))]


theta0 = unstack(init_params(model, problem.n_sites, seeds))
theta_rand = unstack(init_params(model, problem.n_sites, [s + REINIT_OFFSET for s in seeds]))
template = Mask.ones_like(theta0[0])
rows = []
for level in LEVELS:
    masks = [Mask.load(study / "levels" / f"level_{level:02d}" / f"imp_seed{s}.mask.npz", like=template) for s in seeds]
    random = [random_mask_like(m, 7 + k) for k, m in enumerate(masks)]
    starts = theta0 + theta_rand + theta0
    params_K = jax.tree_util.tree_map(lambda *leaves: np.stack(leaves), *starts)
    result = train_masked(model, problem, params_K, stack_masks(masks + masks + random), steps=STEPS,
                          learning_rate=LR, energy_and_grad=energy_and_grad)
    for k, arm in enumerate(["theta0+m_IMP"] * 3 + ["theta_rand+m_IMP"] * 3 + ["theta0+m_rand"] * 3):
        rows.append({"level": level, "density": masks[0].density, "arm": arm, "seed": seeds[k % 3],
                     "energy": float(result.energy_K[k]), "rel_error": float(result.rel_error_K[k])})
    print(level, np.array2string(result.rel_error_K, precision=3), flush=True)
(Path(__file__).parent / "isolated_training.json").write_text(json.dumps(
    {"steps": STEPS, "learning_rate": LR, "e0": problem.e0, "unit": problem.unit,
     "energy_method": "exact full sum", "rows": rows}, indent=1))
