"""Feature ↔ observable matching: which SAE latent tracks which physical quantity.

Every feature's activation over S configurations (an ``(S, F)`` table, e.g. SAE latents
of pooled activations) is correlated with every per-configuration observable (``(S,)``
tables given as data: m_z, |m_z|, the staggered magnetisation, …) under the Born
weights |ψ(σ)|² of the configurations (uniform for samples drawn from |ψ|²). The result
holds the ``(F, O)`` matrix of Pearson r, each feature's best match, each observable's
best feature, and the observables no feature captures (|r| below a threshold)::

    match = match_features(latents_SF, {"m_z": m_S, "|m_z|": np.abs(m_S)}, weights_S, exact=True)
    match.best_feature("|m_z|"), match.uncaptured, match.to_frame()
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from physlens.errors import PhyslensError, check_choice

CAPTURE_THRESHOLD = 0.5
"""Default |r| below which an observable counts as captured by no feature."""


def weighted_correlation(acts_SF: np.ndarray, obs_SO: np.ndarray, weights_S: np.ndarray | None = None) -> np.ndarray:
    """Weighted Pearson r of every column of ``acts_SF`` with every column of ``obs_SO``, shape ``(F, O)``.

    ``weights_S`` (non-negative, any normalisation; None: uniform) weight the S rows.
    A column that is constant under the weights (a dead feature, a conserved observable)
    has no correlation; its entries are 0.
    """
    acts_SF = np.asarray(acts_SF, dtype=float)
    obs_SO = np.asarray(obs_SO, dtype=float)
    if acts_SF.ndim != 2 or obs_SO.ndim != 2 or acts_SF.shape[0] != obs_SO.shape[0]:
        raise PhyslensError(f"need activations (S, F) and observables (S, O) with one S; got {acts_SF.shape}, {obs_SO.shape}")
    weights_S = np.ones(acts_SF.shape[0]) if weights_S is None else np.asarray(weights_S, dtype=float)
    if weights_S.shape != acts_SF.shape[:1] or np.any(weights_S < 0) or not weights_S.sum() > 0:
        raise PhyslensError(f"weights must be {acts_SF.shape[:1]} non-negative numbers with a positive sum")
    w_S = weights_S / weights_S.sum()
    da_SF = acts_SF - w_S @ acts_SF
    do_SO = obs_SO - w_S @ obs_SO
    cov_FO = (da_SF * w_S[:, None]).T @ do_SO
    sd_F = np.sqrt(w_S @ da_SF**2)
    sd_O = np.sqrt(w_S @ do_SO**2)
    scale = np.finfo(float).eps ** 0.5
    live_F = sd_F > scale * (np.abs(acts_SF).max(axis=0) + scale)
    live_O = sd_O > scale * (np.abs(obs_SO).max(axis=0) + scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        r_FO = cov_FO / np.outer(sd_F, sd_O)
    return np.where(np.outer(live_F, live_O), np.clip(r_FO, -1.0, 1.0), 0.0)


@dataclass(frozen=True)
class FeatureMatch:
    """Born-weighted correlations of F features with O observables.

    Attributes:
        observables: the observables' names, length O.
        r_FO: Pearson r of feature f with observable o, ``(F, O)`` (0 for constant columns).
        frequency_F: Born-weighted fraction of configurations on which each feature is active (> 0).
        threshold: |r| below which an observable counts as uncaptured.
        exact: True when the weights are the exact Born weights over the whole basis,
            False when the rows are samples of |ψ|².
    """

    observables: tuple[str, ...]
    r_FO: np.ndarray
    frequency_F: np.ndarray
    threshold: float
    exact: bool

    @property
    def n_features(self) -> int:
        """Number F of features (rows of ``r_FO``)."""
        return self.r_FO.shape[0]

    @property
    def best_observable_F(self) -> np.ndarray:
        """Index (into ``observables``) of each feature's best match by |r|, ``(F,)``."""
        return np.argmax(np.abs(self.r_FO), axis=1)

    @property
    def best_abs_r_F(self) -> np.ndarray:
        """|r| of each feature with its best match, ``(F,)``."""
        return np.abs(self.r_FO).max(axis=1)

    @property
    def best_feature_O(self) -> np.ndarray:
        """Index of the feature with the largest |r| for each observable, ``(O,)``."""
        return np.argmax(np.abs(self.r_FO), axis=0)

    @property
    def best_abs_r_O(self) -> np.ndarray:
        """Largest |r| any feature reaches for each observable, ``(O,)``."""
        return np.abs(self.r_FO).max(axis=0)

    @property
    def uncaptured(self) -> tuple[str, ...]:
        """Observables whose best |r| is below ``threshold``."""
        return tuple(name for name, r in zip(self.observables, self.best_abs_r_O) if r < self.threshold)

    def index(self, observable: str) -> int:
        """Column of ``observable`` in ``r_FO``."""
        check_choice("observable", observable, self.observables)
        return self.observables.index(observable)

    def best_feature(self, observable: str) -> int:
        """The feature with the largest |r| for ``observable``."""
        return int(self.best_feature_O[self.index(observable)])

    def label(self, feature: int) -> str:
        """``"|m_z| (r = +0.97)"``: the feature's best match and its signed r."""
        o = int(self.best_observable_F[feature])
        return f"{self.observables[o]} (r = {self.r_FO[feature, o]:+.2f})"

    def to_frame(self) -> pd.DataFrame:
        """One row per feature: index, firing frequency, best observable, its r and |r|, then r per observable."""
        best_O = self.best_observable_F
        frame = pd.DataFrame({"feature": np.arange(self.n_features), "frequency": self.frequency_F,
                              "best_observable": [self.observables[o] for o in best_O],
                              "r": self.r_FO[np.arange(self.n_features), best_O], "abs_r": self.best_abs_r_F})
        for o, name in enumerate(self.observables):
            frame[f"r[{name}]"] = self.r_FO[:, o]
        frame["exact"] = self.exact
        return frame

    def observable_frame(self) -> pd.DataFrame:
        """One row per observable: best feature, its r and |r|, and whether any feature captures it."""
        best_F = self.best_feature_O
        r_O = self.r_FO[best_F, np.arange(len(self.observables))]
        return pd.DataFrame({"observable": list(self.observables), "best_feature": best_F, "r": r_O,
                             "abs_r": np.abs(r_O), "captured": np.abs(r_O) >= self.threshold, "exact": self.exact})


def match_features(acts_SF: np.ndarray, observables: Mapping[str, np.ndarray], weights_S: np.ndarray | None = None,
                   *, threshold: float = CAPTURE_THRESHOLD, exact: bool) -> FeatureMatch:
    """Correlate every feature (columns of ``acts_SF``, ``(S, F)``) with every observable (name → ``(S,)``).

    ``weights_S``: Born weights of the rows (exact enumeration), or None for samples of |ψ|².
    ``exact`` says which of the two the rows are.
    """
    if not observables:
        raise PhyslensError("no observables given; pass at least one name → (S,) table")
    if not 0 <= threshold <= 1:
        raise PhyslensError(f"threshold must be in [0, 1] (a value of |r|); got {threshold}")
    names = tuple(observables)
    columns = [np.asarray(observables[n], dtype=float) for n in names]
    bad = [n for n, c in zip(names, columns) if c.shape != np.shape(acts_SF)[:1]]
    if bad:
        raise PhyslensError(f"observable(s) {', '.join(bad)} must have shape {np.shape(acts_SF)[:1]} (one value per configuration)")
    r_FO = weighted_correlation(acts_SF, np.stack(columns, axis=1), weights_S)
    w_S = np.ones(len(columns[0])) if weights_S is None else np.asarray(weights_S, dtype=float)
    frequency_F = (w_S / w_S.sum()) @ (np.asarray(acts_SF) > 0)
    return FeatureMatch(names, r_FO, frequency_F, float(threshold), bool(exact))
