"""Give a ticket back the filter of the bond it lost: does the error return to its plateau? (An intervention.)

``physlens.studies.lottery_bonds`` finds that on the 4×4 TFIM each seed's largest error step comes at the IMP level
L where the first lattice bond is left without a filter. To test the cause, ``rescue`` starts from that seed's
trained ticket at level L and trains two networks under the study's own protocol (``batch_trainer``, the level's
steps):

- **bond**: mask_L plus, for each lost bond, the weights that make one unit of mask_{L−1} that spanned it span it
  again (the unit needing the fewest, one or two weights);
- **control**: mask_L plus as many other weights pruned at level L (mask_{L−1} ∖ mask_L, off the lost bonds),
  drawn at random (seeded by the study seed),

the added weights at their rewound values (as ``physlens.studies.lottery_regrowth`` regrows them). If the bond
causes the step, the bond arm returns to the plateau (IMP's error at level L−1) and the control stays near IMP's
error at L. Errors are exact full sums.

Usage (``physlens prune-rescue STUDY --seed S`` writes ``STUDY/bond-rescue-s<S>.csv``)::

    frame = rescue("docs/studies/lottery-barton/4x4-a8-imp-s0-1", seed=1)
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.folders import FolderLock
from physlens.lens.bond_coverage import bond_coverage
from physlens.lens.lottery import level_mask, level_params
from physlens.lens.mask import Mask
from physlens.quantum.masked_training import ExactProblem, make_energy_and_grad, param_template
from physlens.runs import atomic_write_text
from physlens.studies.lottery import batch_trainer
from physlens.studies.lottery_bonds import first_layer_path
from physlens.studies.lottery_observables import study_config
from physlens.studies.lottery_regrowth import imp_errors, regrowth_start, rewound_params


def rescue_masks(before: Mask, after: Mask, bonds_E2: np.ndarray, seed: int) -> tuple[Mask, Mask, list[tuple]]:
    """The bond and control masks of the module docstring from IMP's masks one level apart (``before`` ⊇ ``after``)
    and the lattice bonds ``(E, 2)``; also the bonds ``after`` no longer spans."""
    path = first_layer_path(after)
    keep_NM, prev_NM = after.leaves()[path], before.leaves()[path]
    lost = bond_coverage(keep_NM, bonds_E2).uncovered
    if not lost:
        raise PhyslensError("the ticket spans every bond; allowed: the first level at which a bond is lost")
    add_NM = np.zeros_like(keep_NM)
    for i, k in lost:
        units = np.flatnonzero(prev_NM[i] & prev_NM[k])
        j = units[np.argmin([(~keep_NM[[i, k], u]).sum() for u in units])]      # the fewest weights to give back
        add_NM[[i, k], j] = ~keep_NM[[i, k], j]
    pool = np.flatnonzero((prev_NM & ~keep_NM & ~add_NM).ravel())
    if pool.size < add_NM.sum():
        raise PhyslensError(f"only {pool.size} other pruned weights for a control of {int(add_NM.sum())}")
    control_NM = np.zeros(keep_NM.size, bool)
    control_NM[np.random.default_rng(seed).choice(pool, int(add_NM.sum()), replace=False)] = True
    return (after.replace({path: keep_NM | add_NM}), after.replace({path: keep_NM | control_NM.reshape(keep_NM.shape)}),
            lost)


def rescue(study: Path | str, seed: int) -> pd.DataFrame:
    """Train the bond and control arms at the first level where ``seed`` loses a bond; one row per network:
    ``arm`` (``imp`` at L−1 and L, ``bond``, ``control``), ``level``, ``rho``, ``weights_added``, ``rel_error``
    (exact), ``lost_bonds``."""
    study = Path(study)
    config = study_config(study)
    if config.evaluation != "exact":
        raise PhyslensError(f"{study} measures its errors by Monte Carlo; allowed: a study with exact errors (a basis "
                            "that fits), where a rescue's step can be told from noise")
    system, model = config.build_system(), config.build_model()
    problem = ExactProblem.of(system)
    like = param_template(model, problem.n_sites)
    down = imp_errors(study, seed)
    masks = {level: level_mask(study / "levels", level, "imp", seed, like) for level in sorted(down)}
    first = next((level for level, mask in masks.items()
                  if level and bond_coverage(mask.leaves()[first_layer_path(mask)], system.bonds).uncovered), None)
    if first is None:
        raise PhyslensError(f"seed {seed}'s tickets never lose a bond; allowed: a study whose tickets do")
    before, after = masks[first - 1], masks[first]
    bond_mask, control_mask, lost = rescue_masks(before, after, system.bonds, seed)
    rewind = rewound_params(study, config, model, problem.n_sites, seed, like)
    trained = level_params(study / "levels", first, "imp", seed, like)
    train = batch_trainer(config, problem, make_energy_and_grad(model, problem, config.chunk, config.batching),
                          config.steps)
    starts = [regrowth_start(trained, rewind, after, mask) for mask in (bond_mask, control_mask)]
    batch = train(starts, [bond_mask, control_mask])
    added = bond_mask.kept - after.kept
    rows = [{"arm": "imp", "level": level, "rho": mask.kept / problem.n_sites, "weights_added": 0,
             "rel_error": down[level]} for level, mask in ((first - 1, before), (first, after))]
    rows += [{"arm": arm, "level": first, "rho": mask.kept / problem.n_sites, "weights_added": added,
              "rel_error": float(error)} for arm, mask, error in zip(("bond", "control"), (bond_mask, control_mask),
                                                                    jax.device_get(batch.error_K))]
    return pd.DataFrame(rows).assign(seed=seed, lost_bonds=" ".join(f"{i}-{k}" for i, k in lost))


def write_rescue(study: Path | str, seed: int) -> tuple[pd.DataFrame, Path]:
    """``rescue`` with the study folder locked, its rows written to ``<study>/bond-rescue-s<seed>.csv`` (atomically);
    returns the rows and the file."""
    study = Path(study)
    with FolderLock(study):
        frame = rescue(study, seed)
        path = study / f"bond-rescue-s{seed}.csv"
        atomic_write_text(path, frame.to_csv(index=False, float_format="%.12g"))
    return frame, path
