"""Targets of the nuclear regressor: one row per (nucleus, task) from AME2020, and the split over nuclei.

For the task ``B`` the readout predicts B/A (MeV per nucleon, ``binding_target =
"per_nucleon"``) or the total B (MeV, ``"total"``); every other task is in MeV.
A nucleus is in the same split for every task, and every Z and N occurs in training.

    data = load_data(NuclearTrainConfig())
    data.x_R3, data.y_R, data.train_R
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from physlens.errors import PhyslensError
from physlens.nuclear.data import load_ame2020

TASKS: dict[str, str] = {
    "B": "binding energy; the readout predicts B/A or B (binding_target), metrics and predict give B (MeV)",
    "S_n": "one-neutron separation energy (MeV)",
    "S_p": "one-proton separation energy (MeV)",
    "S_2n": "two-neutron separation energy (MeV)",
    "S_2p": "two-proton separation energy (MeV)",
    "Q_alpha": "alpha-decay energy (MeV)",
    "Q_beta_minus": "beta-minus decay energy (MeV)",
    "Q_EC": "electron-capture energy (MeV)",
}
"""Trainable tasks: name (a column of ``load_ame2020``) → what the model predicts."""
DEFAULT_TASKS = tuple(TASKS)
BINDING_TARGETS = ("per_nucleon", "total")
"""What the readout of the task ``B`` predicts: B/A (MeV per nucleon) or B (MeV)."""



@dataclass(frozen=True)
class NuclearData:
    """Targets and split of a run: one row R per (nucleus, task) pair with a target.

    Attributes:
        nuclei: one row per nucleus K: ``Z``, ``N``, ``A``, ``B`` (measured total binding
            energy, MeV), ``train`` (bool) and per task its target in MeV (``B``: total
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


def load_data(config) -> NuclearData:
    """Targets per task from AME2020 and the split over nuclei defined by ``config`` (a ``NuclearTrainConfig``)."""
    table = load_ame2020(experimental_only=config.experimental_only, zmin=config.zmin, nmin=config.nmin)
    if len(table) < 10:
        raise PhyslensError(f"only {len(table)} nuclei have Z >= {config.zmin} and N >= {config.nmin}; "
                            "at least 10 are needed")
    nuclei = table[["Z", "N", "A"]].assign(B=table.B / 1000.0)
    nuclei["train"] = split_nuclei(table.Z, table.N, config.train_fraction, config.split_seed)
    per_nucleon = config.binding_target == "per_nucleon"
    parts = []
    for k, task in enumerate(config.tasks):
        target_K = table[task].to_numpy(float) / 1000.0
        keep_K = np.isfinite(target_K)
        if config.experimental_only and f"{task}_estimated" in table:
            keep_K &= ~table[f"{task}_estimated"].to_numpy(bool)
        nuclei[task] = np.where(keep_K, target_K, np.nan)
        i = np.flatnonzero(keep_K)
        unit = table.A.to_numpy(float)[i] if task == "B" and per_nucleon else np.ones(i.size)
        parts.append((np.stack([table.Z.to_numpy()[i], table.N.to_numpy()[i], np.full(i.size, k)], 1),
                      target_K[i] / unit, unit, i))
    x_R3, y_R, unit_R, nucleus_R = (np.concatenate(p) for p in zip(*parts))
    train_R = nuclei.train.to_numpy()[nucleus_R]
    y_train = [y_R[train_R & (x_R3[:, 2] == k)] for k in range(len(config.tasks))]
    return NuclearData(nuclei, tuple(config.tasks), x_R3.astype(np.int64), y_R, unit_R, nucleus_R, train_R,
                       np.array([y.mean() for y in y_train]), np.array([y.std() for y in y_train]))
