"""Give a ticket back the filter of the interaction term it lost: does the error return? (An intervention.)

``physlens.studies.lottery_terms`` finds that on the 4×4 TFIM each seed's largest error step comes at the IMP level
L where the first lattice bond is left without a filter (on the toric code: the first plaquette). To test the
cause, ``rescue`` starts from that seed's trained ticket at level L and trains two networks under the study's own
protocol (``batch_trainer``, the level's steps):

- **term**: mask_L plus, for each lost term, the weights that make one unit of mask_{L−1} that spanned it span it
  again (the unit needing the fewest weights: one or two for a bond, up to four for a plaquette) — or, with
  ``every_unit``, every unit that spanned it (a plaquette's parity needs several filters: the exact network has
  eight);
- **control**: mask_L plus as many other weights pruned at level L (mask_{L−1} ∖ mask_L, less those the term arm
  gives back), drawn at random (seeded by the study seed),

the added weights at their rewound values (as ``physlens.studies.lottery_regrowth`` regrows them). If the term
causes the step, the term arm returns to IMP's error at level L−1 and the control stays near IMP's error at L.
Errors are exact full sums.

Usage (``physlens prune-rescue STUDY --seed S [--every-unit]`` writes ``STUDY/rescue-s<S>[-every-unit].csv``)::

    frame = rescue("docs/studies/lottery-barton/4x4-a8-s0-2", seed=1)
    frame = rescue("docs/studies/lottery-barton/toric-a8-imp-s0", seed=0, every_unit=True)
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.folders import FolderLock
from physlens.lens.term_coverage import term_coverage
from physlens.lens.lottery import level_mask, level_params
from physlens.lens.mask import Mask
from physlens.quantum.masked_training import ExactProblem, make_energy_and_grad, param_template
from physlens.runs import atomic_write_text
from physlens.studies.lottery import batch_trainer
from physlens.studies.lottery_terms import first_layer_path, interaction_terms
from physlens.studies.lottery_observables import study_config
from physlens.studies.lottery_regrowth import imp_errors, regrowth_start, rewound_params


def rescue_masks(before: Mask, after: Mask, terms_EK: np.ndarray, seed: int,
                 every_unit: bool = False) -> tuple[Mask, Mask, list[tuple]]:
    """The term and control masks of the module docstring from IMP's masks one level apart (``before`` ⊇ ``after``)
    and the Hamiltonian's terms ``(E, K)``; also the terms ``after`` no longer spans, each as its sites."""
    path = first_layer_path(after)
    keep_NM, prev_NM = after.leaves()[path], before.leaves()[path]
    lost = term_coverage(keep_NM, terms_EK).uncovered
    if not lost:
        raise PhyslensError("the ticket spans every term; allowed: the first level at which a term is lost")
    add_NM = np.zeros_like(keep_NM)
    for sites in map(list, lost):
        units = np.flatnonzero(prev_NM[sites].all(axis=0))
        if not every_unit:
            units = units[[np.argmin([(~keep_NM[sites, u]).sum() for u in units])]]     # the fewest to give back
        add_NM[np.ix_(sites, units)] = ~keep_NM[np.ix_(sites, units)]
    pool = np.flatnonzero((prev_NM & ~keep_NM & ~add_NM).ravel())
    if pool.size < add_NM.sum():
        raise PhyslensError(f"only {pool.size} other pruned weights for a control of {int(add_NM.sum())}")
    control_NM = np.zeros(keep_NM.size, bool)
    control_NM[np.random.default_rng(seed).choice(pool, int(add_NM.sum()), replace=False)] = True
    return (after.replace({path: keep_NM | add_NM}), after.replace({path: keep_NM | control_NM.reshape(keep_NM.shape)}),
            lost)


def rescue(study: Path | str, seed: int, every_unit: bool = False) -> pd.DataFrame:
    """Train the term and control arms at the first level where ``seed`` loses an interaction term; one row per
    network: ``arm`` (``imp`` at L−1 and L, ``term``, ``control``), ``level``, ``rho``, ``weights_added``,
    ``rel_error`` (exact), ``term`` (the terms' name), ``lost_terms`` (each lost term's sites joined by "-"),
    ``units_given`` (``one`` or ``every``: the units of mask_{L−1} per lost term the term arm gives back)."""
    study = Path(study)
    config = study_config(study)
    if config.evaluation != "exact":
        raise PhyslensError(f"{study} measures its errors by Monte Carlo; allowed: a study with exact errors (a basis "
                            "that fits), where a rescue's step can be told from noise")
    system, model = config.build_system(), config.build_model()
    problem = ExactProblem.of(system)
    like = param_template(model, problem.n_sites)
    down = imp_errors(study, seed)
    name, terms_EK = interaction_terms(system)
    masks = {level: level_mask(study / "levels", level, "imp", seed, like) for level in sorted(down)}
    first = next((level for level, mask in masks.items()
                  if level and term_coverage(mask.leaves()[first_layer_path(mask)], terms_EK).uncovered), None)
    if first is None:
        raise PhyslensError(f"seed {seed}'s tickets never lose a {name}; allowed: a study whose tickets do")
    before, after = masks[first - 1], masks[first]
    term_mask, control_mask, lost = rescue_masks(before, after, terms_EK, seed, every_unit)
    rewind = rewound_params(study, config, model, problem.n_sites, seed, like)
    trained = level_params(study / "levels", first, "imp", seed, like)
    train = batch_trainer(config, problem, make_energy_and_grad(model, problem, config.chunk, config.batching),
                          config.steps)
    starts = [regrowth_start(trained, rewind, after, mask) for mask in (term_mask, control_mask)]
    batch = train(starts, [term_mask, control_mask])
    added = term_mask.kept - after.kept
    rows = [{"arm": "imp", "level": level, "rho": mask.kept / problem.n_sites, "weights_added": 0,
             "rel_error": down[level]} for level, mask in ((first - 1, before), (first, after))]
    rows += [{"arm": arm, "level": first, "rho": mask.kept / problem.n_sites, "weights_added": added,
              "rel_error": float(error)} for arm, mask, error in zip(("term", "control"), (term_mask, control_mask),
                                                                    jax.device_get(batch.error_K))]
    return pd.DataFrame(rows).assign(seed=seed, term=name,
                                     lost_terms=" ".join("-".join(map(str, sites)) for sites in lost),
                                     units_given="every" if every_unit else "one")


def write_rescue(study: Path | str, seed: int, every_unit: bool = False) -> tuple[pd.DataFrame, Path]:
    """``rescue`` with the study folder locked, its rows written to ``<study>/rescue-s<seed>.csv`` (with
    ``every_unit``: ``rescue-s<seed>-every-unit.csv``), atomically; returns the rows and the file."""
    study = Path(study)
    with FolderLock(study):
        frame = rescue(study, seed, every_unit)
        path = study / f"rescue-s{seed}{'-every-unit' if every_unit else ''}.csv"
        atomic_write_text(path, frame.to_csv(index=False, float_format="%.12g"))
    return frame, path
