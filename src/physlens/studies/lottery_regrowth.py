"""Hysteresis of the lottery transition: climb back up the IMP levels by regrowing the weights pruning removed.

IMP walks down in ρ (remaining weights per spin), each level's mask inside the one before. The way back up starts
from the trained IMP ticket of one seed at a sparse level L and, for ℓ = L−1, L−2, …, regrows the weights of
mask_ℓ that mask_{ℓ+1} lacks and trains the level's steps under the study's own protocol (``batch_trainer``):

    start_ℓ = θ_up(ℓ+1) on mask_{ℓ+1}  +  θ_rewind on mask_ℓ ∖ mask_{ℓ+1},

so the weights that stayed keep what the sparser network learned, and the regrown ones come back at the value IMP
gives every survivor (the rewound network: θ at the rewinding step, or θ_0 without late rewinding). Regrowing at zero instead would leave a hidden unit whose every weight
had been pruned dead for good: its pre-activation stays 0, where ReLU has no gradient. Each upward network's
energy, magnetisations and fidelity with the dense network are exact full sums, beside the downward (IMP) values at
the same level; a first-order transition shows as hysteresis, the upward path staying on the sparse side's branch
(its error far above IMP's) past the ρ where IMP jumped.

Files (``<study>/regrowth-s<seed>-from-<L>/``): ``regrowth.csv`` (one row per level, written as each finishes) and
``level_<ℓ>.params.npz``; a rerun with a lower ``to_level`` continues, one with the same levels reads back.

    frame = regrow("docs/studies/lottery-barton/4x4-a8-imp-s0", from_level=32, to_level=22, seed=0)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.folders import FolderLock
from physlens.lens.lottery import level_mask, level_params, params_bytes, params_from, saved_rows
from physlens.lens.mask import Mask
from physlens.quantum.fidelity import fidelity
from physlens.quantum.magnetisation import flip_index, magnetisations
from physlens.quantum.masked_training import ExactProblem, make_energy_and_grad, param_template
from physlens.runs import atomic_write_bytes, atomic_write_text
from physlens.studies.lottery import batch_trainer, study_inits
from physlens.studies.lottery_config import StudyConfig
from physlens.studies.lottery_observables import study_config

HYSTERESIS_FACTOR = 2.0
"""The paths differ at a level when their errors differ by more than this factor (physlens's criterion)."""


def regrowth_start(trained: dict, rewind: dict, kept: Mask, grown: Mask) -> dict:
    """``trained`` where ``kept`` keeps, ``rewind`` where ``grown`` adds to it, 0 elsewhere (every leaf of the
    pytrees; ``kept`` must lie inside ``grown``)."""
    for (path, small), big in zip(kept.leaves().items(), grown.leaves().values()):
        if np.any(small & ~big):
            raise PhyslensError(f"the masks are not nested at {path}: the sparser level keeps weights the denser one "
                                "prunes; allowed: masks of one IMP seed")
    pairs = zip(jax.tree_util.tree_leaves(trained), jax.tree_util.tree_leaves(rewind),
                kept.leaves().values(), grown.leaves().values())
    leaves = [np.where(small, t, np.where(big, r, 0.0)) for t, r, small, big in pairs]
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(trained), leaves)


def imp_errors(study: Path, seed: int) -> dict[int, float]:
    """The IMP ticket's relative error of ``seed`` at every finished level of ``study``."""
    return {row["level"]: row["error"] for row in saved_rows(study / "levels") if row["arm"] == "imp" and row["seed"] == seed}


def rewound_params(study: Path, config: StudyConfig, model: nn.Module, n_sites: int, seed: int, like: Any) -> Any:
    """The parameters IMP rewinds ``seed``'s survivors to (structured as ``like``): the saved network at the rewinding
    step, or θ_0 without late rewinding."""
    if config.rewind_step:
        return params_from(study / "levels" / "level_00" / f"rewind_seed{seed}.params.npz", like)
    return study_inits(config, model, n_sites)[0][list(config.seeds).index(seed)]


def regrow(study: Path | str, from_level: int, to_level: int, seed: int = 0) -> pd.DataFrame:
    """Climb from IMP level ``from_level`` to ``to_level`` (< ``from_level``, ≥ 0) of ``seed`` by regrowing (module
    docstring); returns one row per level: ``level``, ``density``, ``rho``, ``energy`` (system unit), ``error_up``,
    ``error_down`` (IMP), ``ratio`` = up/down, the magnetisations up, ``fidelity_dense``, ``steps``."""
    study = Path(study)
    config: StudyConfig = study_config(study)
    down = imp_errors(study, seed)
    if not 0 <= to_level < from_level or from_level not in down or to_level not in down:
        raise PhyslensError(f"need finished IMP levels 0 <= to_level < from_level of seed {seed}; got from "
                            f"{from_level} to {to_level}, finished {min(down, default=None)}..{max(down, default=None)}")
    out = study / f"regrowth-s{seed}-from-{from_level:02d}"
    with FolderLock(study):
        return _climb(study, out, config, from_level, to_level, seed, down)


def _climb(study: Path, out: Path, config: StudyConfig, from_level: int, to_level: int, seed: int,
           down: dict[int, float]) -> pd.DataFrame:
    problem = ExactProblem.of(config.build_system())
    model = config.build_model()
    like = param_template(model, problem.n_sites)
    n_prunable = Mask.ones_like(like).size
    energy_and_grad = make_energy_and_grad(model, problem, config.chunk, config.batching)
    train = batch_trainer(config, problem, energy_and_grad, config.steps)
    log_psi = jax.jit(lambda params: model.apply({"params": params}, problem.basis_SN))
    flips_SN = flip_index(problem.basis_SN)
    dense_S = np.asarray(log_psi(level_params(study / "levels", 0, "imp", seed, like)))
    rewind = rewound_params(study, config, model, problem.n_sites, seed, like)
    out.mkdir(exist_ok=True)
    file = out / "regrowth.csv"
    rows = pd.read_csv(file).to_dict("records") if file.is_file() else []
    done = {int(r["level"]) for r in rows}
    params = level_params(study / "levels", from_level, "imp", seed, like)
    kept = level_mask(study / "levels", from_level, "imp", seed, like)
    for level in range(from_level - 1, to_level - 1, -1):
        mask = level_mask(study / "levels", level, "imp", seed, like)
        if level in done:
            params, kept = params_from(out / f"level_{level:02d}.params.npz", like), mask
            continue
        start = regrowth_start(params, rewind, kept, mask)
        batch = train([start], [mask])
        params, kept = jax.tree_util.tree_map(np.asarray, batch.params[0]), mask
        atomic_write_bytes(out / f"level_{level:02d}.params.npz", params_bytes(params))
        log_psi_S = np.asarray(log_psi(params))
        error = float(batch.error_K[0])
        rows.append({"level": level, "density": mask.density, "rho": mask.density * n_prunable / problem.n_sites,
                     "energy": float(batch.objective_K[0]), "error_up": error, "error_down": down[level],
                     "ratio": error / down[level], **magnetisations(problem.basis_SN, log_psi_S, flips_SN),
                     "fidelity_dense": float(fidelity(log_psi_S, dense_S)), "steps": config.steps})
        atomic_write_text(file, pd.DataFrame(rows).sort_values("level", ascending=False).to_csv(index=False))
    frame = pd.DataFrame(rows).sort_values("level", ascending=False)
    return frame[frame.level >= to_level].reset_index(drop=True)


def hysteresis(frame: pd.DataFrame) -> dict:
    """Whether the upward path leaves IMP's curve: the levels whose errors differ by more than
    ``HYSTERESIS_FACTOR`` and the largest ratio up/down (and its ρ)."""
    apart = frame[(frame.ratio > HYSTERESIS_FACTOR) | (frame.ratio < 1 / HYSTERESIS_FACTOR)]
    widest = frame.iloc[int(np.argmax(np.abs(np.log(frame.ratio))))]
    return {"hysteresis": bool(len(apart)), "levels_apart": apart.level.tolist(),
            "largest_ratio": float(widest.ratio), "at_rho": float(widest.rho)}
