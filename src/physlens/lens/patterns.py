"""Pattern scores: how closely each hidden unit's weights over sites follow a reference pattern.

The score of unit j against pattern s (a vector over the N sites) is the Pearson
correlation S(j) = r(W_j, s) of its weight vector W_j with s: +1 for W_j = a·s + b
with a > 0, −1 for a < 0. Pearson r is undefined for a constant pattern (it has no
variance), so for the uniform pattern S(j) is the cosine of the un-centred vectors,
Σ_i W_ji / (√N ‖W_j‖): ±1 when all weights are equal, 0 when they sum to zero.
Scores that are undefined (a unit whose weights are all equal, against a
non-constant pattern; an all-zero unit against the uniform pattern) are NaN.

    scores = pattern_scores(kernel_NM.T, standard_patterns(N))
    scores.scores_MP[:, scores.names.index("afm")]     # S_AFM of every unit
    scores.to_frame()
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from physlens.errors import PhyslensError

CONSTANT_TOL = 1e-12
"""A pattern (or weight vector) whose spread is below this fraction of its size counts as constant."""


def afm_pattern(n_sites: int) -> np.ndarray:
    """The antiferromagnetic (Néel) pattern s_i = (−1)^i with sites numbered i = 1 … N, as the hidden-unit
    paper writes it (arXiv 2603.24223, Eq. for S_AFM): −1 on the first site (array index 0), shape ``(N,)``.
    A unit's score against it changes sign with the numbering; |S_AFM| does not."""
    return (-1.0) ** (np.arange(n_sites) + 1)


def uniform_pattern(n_sites: int) -> np.ndarray:
    """The uniform (ferromagnetic) pattern s_i = 1, shape ``(N,)``."""
    return np.ones(n_sites)


def fourier_pattern(n_sites: int, k: int, kind: str = "cos") -> np.ndarray:
    """The Fourier mode cos(2πki/N) or sin(2πki/N) over sites i = 0..N−1, shape ``(N,)``.

    Raises ``PhyslensError`` for a mode that vanishes (sin with k ≡ 0 or 2k ≡ 0 mod N).
    """
    if kind not in ("cos", "sin"):
        raise PhyslensError(f"unknown Fourier kind {kind!r}; allowed: cos, sin")
    phase = 2 * np.pi * k * np.arange(n_sites) / n_sites
    mode = np.cos(phase) if kind == "cos" else np.sin(phase)
    if np.abs(mode).max() < 1e-9:
        raise PhyslensError(f"sin(2π·{k}·i/{n_sites}) is zero on every site; use 0 < k < N/2 for sine modes")
    return np.where(np.abs(mode) < 1e-12, 0.0, mode)


def standard_patterns(n_sites: int) -> dict[str, np.ndarray]:
    """``afm``, ``uniform`` and the Fourier modes ``cos{k}`` (1 ≤ k ≤ N/2), ``sin{k}`` (1 ≤ k < N/2)."""
    patterns = {"afm": afm_pattern(n_sites), "uniform": uniform_pattern(n_sites)}
    for k in range(1, n_sites // 2 + 1):
        patterns[f"cos{k}"] = fourier_pattern(n_sites, k, "cos")
        if 2 * k != n_sites:
            patterns[f"sin{k}"] = fourier_pattern(n_sites, k, "sin")
    return patterns


def _is_constant(x: np.ndarray) -> np.ndarray:
    return np.ptp(x, axis=-1) <= CONSTANT_TOL * np.abs(x).max(axis=-1, initial=0.0)


def pattern_correlation(weights_MN: np.ndarray, pattern_N: np.ndarray) -> np.ndarray:
    """Score of each of M weight vectors against one pattern, shape ``(M,)`` (see module docstring).

    ``weights_MN``: one row per unit, one column per site (for a flax Dense kernel
    ``(N, M)``, pass ``kernel.T``). Raises ``PhyslensError`` for mismatched shapes or
    an all-zero pattern.
    """
    weights_MN = np.atleast_2d(np.asarray(weights_MN, dtype=float))
    pattern_N = np.asarray(pattern_N, dtype=float)
    if pattern_N.ndim != 1 or weights_MN.shape[1] != pattern_N.size:
        raise PhyslensError(f"weights_MN {weights_MN.shape} and pattern_N {pattern_N.shape} must share the site axis N")
    if not np.any(pattern_N):
        raise PhyslensError("the pattern is zero on every site; give a pattern with a non-zero entry")
    if _is_constant(pattern_N):
        w_MN, s_N = weights_MN, pattern_N
    else:
        w_MN = weights_MN - weights_MN.mean(axis=1, keepdims=True)
        s_N = pattern_N - pattern_N.mean()
        w_MN[_is_constant(weights_MN)] = 0.0
    norms_M = np.linalg.norm(w_MN, axis=1) * np.linalg.norm(s_N)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms_M > 0, (w_MN @ s_N) / np.where(norms_M > 0, norms_M, 1.0), np.nan)


@dataclass(frozen=True)
class PatternScores:
    """Scores of M units against P named patterns.

    Attributes:
        names: pattern names, length P.
        scores_MP: S(j) of unit j against pattern p, in [−1, 1] (NaN where undefined).
    """

    names: tuple[str, ...]
    scores_MP: np.ndarray

    def best(self) -> list[str]:
        """For each unit, the pattern with the largest |S(j)| (``""`` when every score is NaN)."""
        abs_MP = np.nan_to_num(np.abs(self.scores_MP), nan=-1.0)
        return [self.names[p] if abs_MP[j, p] >= 0 else "" for j, p in enumerate(abs_MP.argmax(axis=1))]

    def to_frame(self) -> pd.DataFrame:
        """One row per unit: ``unit``, one column per pattern, ``best`` (largest |S|)."""
        frame = pd.DataFrame(self.scores_MP, columns=list(self.names))
        frame.insert(0, "unit", np.arange(self.scores_MP.shape[0]))
        frame["best"] = self.best()
        return frame


def pattern_scores(weights_MN: np.ndarray, patterns: Mapping[str, np.ndarray]) -> PatternScores:
    """Score every unit (rows of ``weights_MN``, ``(M, N)``) against every named pattern ``(N,)``."""
    if not patterns:
        raise PhyslensError("no patterns given; pass e.g. standard_patterns(N)")
    names = tuple(patterns)
    return PatternScores(names, np.stack([pattern_correlation(weights_MN, patterns[n]) for n in names], axis=1))
