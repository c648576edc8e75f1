"""Targets of the nuclear regressor: one row per (nucleus, task), and the split over nuclei.

Targets are the measured values of AME2020 or, as the control of Kitouni et al. (arXiv
2405.17425, Fig. 14), the fitted SEMF's pseudo-data (``TARGET_SOURCES``,
``physlens.nuclear.pseudo_data``). For the task ``B`` the readout predicts B/A (MeV per
nucleon, ``binding_target = "per_nucleon"``) or the total B (MeV, ``"total"``); every other
task is in MeV except the auxiliary targets Z and N (counts). A nucleus is in the same split
for every task, and every Z and N occurs in training.

    data = load_data(NuclearTrainConfig())          # physlens.nuclear.training_config
    data.x_R3, data.y_R, data.train_R
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from physlens.errors import PhyslensError
from physlens.nuclear.data import load_ame2020
from physlens.nuclear.pseudo_data import chart_hull, semf_binding, task_targets
from physlens.nuclear.terms import fit_semf

TASKS: dict[str, str] = {
    "B": "binding energy; the readout predicts B/A or B (binding_target), metrics and predict give B (MeV)",
    "S_n": "one-neutron separation energy (MeV)",
    "S_p": "one-proton separation energy (MeV)",
    "S_2n": "two-neutron separation energy (MeV)",
    "S_2p": "two-proton separation energy (MeV)",
    "Q_alpha": "alpha-decay energy (MeV)",
    "Q_beta_minus": "beta-minus decay energy (MeV)",
    "Q_EC": "electron-capture energy (MeV)",
    "Z": "proton number (an auxiliary target, as the paper tried; a count, not MeV)",
    "N": "neutron number (an auxiliary target; a count, not MeV)",
}
"""Trainable tasks: name (a column of ``load_ame2020``) → what the model predicts."""
DEFAULT_TASKS = tuple(t for t in TASKS if t not in ("Z", "N"))
BINDING_TARGETS = ("per_nucleon", "total")
"""What the readout of the task ``B`` predicts: B/A (MeV per nucleon) or B (MeV)."""
TARGET_SOURCES: dict[str, str] = {
    "ame2020": "the measured values of AME2020",
    "semf": "the SEMF fitted on the training nuclei, over the same nuclei (pseudo-data)",
    "semf-grid": "the same SEMF over the chart's full grid: every N between each element's lightest and heaviest "
                 "measured isotope",
}
"""Where the targets come from (``NuclearTrainConfig.target_source``)."""



@dataclass(frozen=True)
class NuclearData:
    """Targets and split of a run: one row R per (nucleus, task) pair with a target.

    Attributes:
        nuclei: one row per nucleus K: ``Z``, ``N``, ``A``, ``B`` (total binding energy of the
            target source, MeV: measured, or the SEMF's for pseudo-data), ``train`` (bool) and per task its target in MeV (``B``: total
            binding energy), NaN where dropped.
        tasks: task names; a row's task index points into this tuple.
        x_R3: integers (Z, N, task index) per row.
        y_R: model-space target per row (for ``B``: B/A in MeV/nucleon or B in MeV, per
            ``binding_target``; else MeV).
        unit_R: factor turning a model-space error into MeV (A for ``B`` per nucleon, else 1).
        nucleus_R: row of ``nuclei`` per row.
        train_R: whether the row's nucleus is in the training split.
        shift_K: per-task mean of ``y_R`` over training rows.
        scale_K: per-task standard deviation of ``y_R`` over training rows.
    """

    nuclei: pd.DataFrame
    tasks: tuple[str, ...]
    x_R3: np.ndarray
    y_R: np.ndarray
    unit_R: np.ndarray
    nucleus_R: np.ndarray
    train_R: np.ndarray
    shift_K: np.ndarray
    scale_K: np.ndarray


def split_nuclei(Z: npt.ArrayLike, N: npt.ArrayLike, train_fraction: float, seed: int) -> np.ndarray:
    """Boolean training mask over nuclei (Z_K, N_K): round(fraction·K) of them, drawn with ``seed``.

    One nucleus of every proton number and one of every neutron number (chosen at random)
    are always in training, so every embedding row a held-out nucleus uses is trained.
    """
    Z_K, N_K = np.asarray(Z), np.asarray(N)
    order_K = np.random.default_rng(seed).permutation(Z_K.size)
    anchors = {int(order_K[np.flatnonzero(v_K[order_K] == v)[0]]) for v_K in (Z_K, N_K) for v in np.unique(v_K)}
    n_train = int(round(train_fraction * Z_K.size))
    if n_train < len(anchors):
        raise PhyslensError(f"train_fraction {train_fraction} keeps {n_train} nuclei; at least {len(anchors)} are "
                            "needed to cover every Z and N")
    rest = [k for k in order_K if k not in anchors]
    train_K = np.zeros(Z_K.size, dtype=bool)
    train_K[list(anchors) + rest[: n_train - len(anchors)]] = True
    return train_K


def _nuclei_and_targets(config) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Nuclei (Z, N, A, B in MeV, train) and per task its target per nucleus (MeV; NaN where dropped)."""
    table = load_ame2020(experimental_only=config.experimental_only, zmin=config.zmin, nmin=config.nmin)
    if len(table) < 10:
        raise PhyslensError(f"only {len(table)} nuclei have Z >= {config.zmin} and N >= {config.nmin}; "
                            "at least 10 are needed")
    nuclei = table[["Z", "N", "A"]].assign(B=table.B / 1000.0)
    nuclei["train"] = split_nuclei(table.Z, table.N, config.train_fraction, config.split_seed)
    if config.target_source == "ame2020":
        targets = {}
        for task in config.tasks:
            target_K = table[task].to_numpy(float) / (1.0 if task in ("Z", "N") else 1000.0)
            keep_K = np.isfinite(target_K)
            if config.experimental_only and f"{task}_estimated" in table:
                keep_K &= ~table[f"{task}_estimated"].to_numpy(bool)
            targets[task] = np.where(keep_K, target_K, np.nan)
        return nuclei, targets
    train_K = nuclei.train.to_numpy()
    formula = semf_binding(fit_semf(nuclei.Z[train_K], nuclei.N[train_K], nuclei.B[train_K]).coefficients)
    if config.target_source == "semf-grid":
        Z_G, N_G = chart_hull(nuclei.Z, nuclei.N)
        nuclei = pd.DataFrame({"Z": Z_G, "N": N_G, "A": Z_G + N_G})
        nuclei["train"] = split_nuclei(Z_G, N_G, config.train_fraction, config.split_seed)
    derived = task_targets(formula, nuclei.Z.to_numpy(), nuclei.N.to_numpy())
    nuclei["B"] = derived["B"]
    return nuclei, {task: derived[task] for task in config.tasks}


def load_data(config: Any) -> NuclearData:
    """Targets per task and the split over nuclei defined by ``config`` (a ``NuclearTrainConfig``): measured
    (AME2020) or SEMF pseudo-data, per ``config.target_source`` (``TARGET_SOURCES``)."""
    nuclei, targets = _nuclei_and_targets(config)
    A_K = nuclei.A.to_numpy(float)
    per_nucleon = config.binding_target == "per_nucleon"
    parts = []
    for k, task in enumerate(config.tasks):
        target_K = targets[task]
        if task not in ("Z", "N"):  # the auxiliary targets are the index columns themselves
            nuclei[task] = target_K
        i = np.flatnonzero(np.isfinite(target_K))
        unit = A_K[i] if task == "B" and per_nucleon else np.ones(i.size)
        parts.append((np.stack([nuclei.Z.to_numpy()[i], nuclei.N.to_numpy()[i], np.full(i.size, k)], 1),
                      target_K[i] / unit, unit, i))
    x_R3, y_R, unit_R, nucleus_R = (np.concatenate(p) for p in zip(*parts))
    train_R = nuclei.train.to_numpy()[nucleus_R]
    y_train = [y_R[train_R & (x_R3[:, 2] == k)] for k in range(len(config.tasks))]
    return NuclearData(nuclei, tuple(config.tasks), x_R3.astype(np.int64), y_R, unit_R, nucleus_R, train_R,
                       np.array([y.mean() for y in y_train]), np.array([y.std() for y in y_train]))
