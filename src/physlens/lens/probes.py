"""Linear probes: how well a linear read-out of activations predicts an observable, and split features.

The reference against which a single SAE feature's correlation with an observable is judged
is the best *linear* read-out of the same activations (a ceiling for linear directions, not
for a feature, which is a non-linear function of the activations): the weighted least-squares fit
ŷ = a + acts · w of the per-configuration observable y under the Born weights |ψ(σ)|²
(uniform for samples drawn from |ψ|²), and its Pearson r with y, which equals the square
root of the fit's weighted R². The fit is in-sample: over the whole basis (exact) the
sample is the population, so no held-out split is needed; on samples with D ≪ S the
optimism is of order D/S.

When several SAE features each track one observable (a split feature), ``split_features``
shows them together: each one's r, the r of their best linear combination (a probe on
those columns only) and the cosines between their decoder directions.

Usage::

    probe = linear_probe(resid_SD, m_s_S, born_S)           # probe.r, probe.coef_D, probe.intercept
    split = split_features(latents_SF, W_dec_FD, m_s_S, born_S, min_abs_r=0.5)
    split.r_F, split.combined_r, split.cosine_FF
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.lens.matching import weighted_correlation


@dataclass(frozen=True)
class LinearProbe:
    """A weighted least-squares read-out ŷ = intercept + acts · coef_D.

    Attributes:
        coef_D: weights of the D activation columns (units of y per unit of activation).
        intercept: constant term (units of y).
        r: weighted Pearson r between ŷ and y (≥ 0; 0 when y or every column is constant).
    """

    coef_D: np.ndarray
    intercept: float
    r: float

    def predict(self, acts_SD: np.ndarray) -> np.ndarray:
        """ŷ for activations ``(S, D)``, shape ``(S,)``."""
        return np.asarray(acts_SD, dtype=float) @ self.coef_D + self.intercept


def _weights(n: int, weights_S: np.ndarray | None) -> np.ndarray:
    weights_S = np.ones(n) if weights_S is None else np.asarray(weights_S, dtype=float)
    if weights_S.shape != (n,) or np.any(weights_S < 0) or not weights_S.sum() > 0:
        raise PhyslensError(f"weights must be ({n},) non-negative numbers with a positive sum")
    return weights_S / weights_S.sum()


def linear_probe(acts_SD: np.ndarray, target_S: np.ndarray, weights_S: np.ndarray | None = None) -> LinearProbe:
    """Fit y ≈ a + acts · w by least squares under ``weights_S``; return the fit and r(ŷ, y).

    Args:
        acts_SD: activations of S configurations, shape ``(S, D)``.
        target_S: the observable of each configuration, shape ``(S,)``.
        weights_S: Born weights (any normalisation) or None for uniform.
    """
    acts_SD = np.asarray(acts_SD, dtype=float)
    target_S = np.asarray(target_S, dtype=float)
    if acts_SD.ndim != 2 or target_S.shape != acts_SD.shape[:1]:
        raise PhyslensError(f"need activations (S, D) and a target (S,); got {acts_SD.shape}, {target_S.shape}")
    w_S = _weights(len(target_S), weights_S)
    mean_D, mean = w_S @ acts_SD, w_S @ target_S
    root_S = np.sqrt(w_S)
    coef_D, *_ = np.linalg.lstsq((acts_SD - mean_D) * root_S[:, None], (target_S - mean) * root_S, rcond=None)
    prediction_S = (acts_SD - mean_D) @ coef_D + mean
    r = float(weighted_correlation(prediction_S[:, None], target_S[:, None], w_S)[0, 0])
    return LinearProbe(coef_D, float(mean - mean_D @ coef_D), max(r, 0.0))


@dataclass(frozen=True)
class SplitFeatures:
    """Several features that track one observable, shown together.

    Attributes:
        features_K: indices of the features (|r| ≥ the threshold), strongest first.
        r_K: each feature's own Pearson r with the observable.
        combined_r: r of the best linear combination of the K features (``linear_probe`` on them).
        cosine_KK: cosines between their decoder directions (rows of W_dec).
    """

    features_K: np.ndarray
    r_K: np.ndarray
    combined_r: float
    cosine_KK: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """One row per feature: ``feature``, ``r`` and its decoder cosine with each other feature."""
        frame = pd.DataFrame({"feature": self.features_K, "r": self.r_K})
        for j, feature in enumerate(self.features_K):
            frame[f"cos_{feature}"] = self.cosine_KK[:, j]
        return frame


def split_features(latents_SF: np.ndarray, W_dec_FD: np.ndarray, target_S: np.ndarray,
                   weights_S: np.ndarray | None = None, min_abs_r: float = 0.5, max_features: int = 8) -> SplitFeatures:
    """The features whose |r| with ``target_S`` is at least ``min_abs_r`` (at most ``max_features``, strongest first).

    Args:
        latents_SF: SAE latents of S configurations, shape ``(S, F)``.
        W_dec_FD: decoder directions, shape ``(F, D)``.
        target_S: the observable, shape ``(S,)``; weights_S: Born weights or None.
        min_abs_r: threshold on |r|; max_features: most features kept.
    """
    latents_SF, W_dec_FD = np.asarray(latents_SF, dtype=float), np.asarray(W_dec_FD, dtype=float)
    if W_dec_FD.ndim != 2 or W_dec_FD.shape[0] != latents_SF.shape[1]:
        raise PhyslensError(f"W_dec must be (F={latents_SF.shape[1]}, D); got {W_dec_FD.shape}")
    r_F = weighted_correlation(latents_SF, np.asarray(target_S, dtype=float)[:, None], weights_S)[:, 0]
    order = np.argsort(-np.abs(r_F), kind="stable")
    chosen = order[np.abs(r_F[order]) >= min_abs_r][:max_features]
    if chosen.size == 0:
        raise PhyslensError(f"no feature reaches |r| >= {min_abs_r} (best {np.abs(r_F).max():.3f}); allowed: a lower min_abs_r")
    unit_KD = W_dec_FD[chosen] / np.linalg.norm(W_dec_FD[chosen], axis=1, keepdims=True)
    combined = linear_probe(latents_SF[:, chosen], target_S, weights_S).r
    return SplitFeatures(chosen, r_F[chosen], combined, unit_KD @ unit_KD.T)
