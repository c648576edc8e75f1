"""Piecewise power laws and sparsity-induced transitions in error-vs-density curves.

``piecewise_power_law`` fits log y as a *continuous* piecewise-linear function of
log x with 0, 1 or 2 breakpoints (hinge regression; breakpoints searched over the
midpoints between the distinct x, each region holding at least ``MIN_SEGMENT`` of
them), and picks the number of breakpoints by BIC, a breakpoint counting as two
parameters (its position and its change of slope). Each
segment is a scaling region y ∝ x^k_i; the breakpoints are its boundaries.

``detect_transition`` finds the density at which the (median over seeds) error jumps
most between neighbouring pruning levels, and at every level whether the seeds split
into two branches (a gap of more than ``split_decades`` in log10 error between the
sorted seeds): branches coexisting at the jump are the first-order signature.

Usage::

    fit = piecewise_power_law(density_B, error_B)
    fit.breakpoints, fit.exponents
    tr = detect_transition(density_L, error_LS)
    tr.density_before, tr.density_after, tr.jump_decades, tr.split_at_transition
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from physlens.errors import PhyslensError


MIN_SEGMENT = 3
"""Fewest distinct x in one scaling region."""
SSE_FLOOR = 1e-20
"""Mean squared log residual below which fits count as exact (BIC then prefers fewer breakpoints)."""


@dataclass(frozen=True)
class PiecewiseFit:
    """Continuous piecewise power law y = a_i x^k_i, segment i between consecutive breakpoints.

    Attributes:
        breakpoints: x at the segment boundaries, increasing (length n_segments − 1).
        exponents: k_i of each segment, from small x to large x.
        coef: hinge-regression coefficients (log a_0, k_0, Δk_1, …) in natural log.
        sse: sum of squared residuals of log y.
        bic: n log(sse/n) + p log n of the chosen model.
        n: number of points fitted.
    """

    breakpoints: tuple[float, ...]
    exponents: tuple[float, ...]
    coef: tuple[float, ...]
    sse: float
    bic: float
    n: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.exp(_design(np.log(np.asarray(x, dtype=float)), np.log(self.breakpoints)) @ np.asarray(self.coef))

    def to_frame(self) -> pd.DataFrame:
        """One row per scaling region: ``x_low``, ``x_high``, ``exponent``."""
        edges = (0.0,) + self.breakpoints + (np.inf,)
        return pd.DataFrame({"x_low": edges[:-1], "x_high": edges[1:], "exponent": self.exponents})


def _design(lx: np.ndarray, log_breaks) -> np.ndarray:
    cols = [np.ones_like(lx), lx] + [np.maximum(lx - b, 0.0) for b in log_breaks]
    return np.stack(cols, axis=1)


def piecewise_power_law(x_B: np.ndarray, y_B: np.ndarray, max_breaks: int = 2) -> PiecewiseFit:
    """Fit y(x) by a continuous piecewise power law with up to ``max_breaks`` breakpoints (BIC choice).

    Points with x ≤ 0 or y ≤ 0 are dropped. A model with b breakpoints needs at least
    b + 3 points and ``MIN_SEGMENT`` distinct x in each segment.
    """
    x_B, y_B = np.asarray(x_B, dtype=float), np.asarray(y_B, dtype=float)
    if x_B.shape != y_B.shape or not 0 <= max_breaks <= 2:
        raise PhyslensError(f"x and y must have one shape and max_breaks must be 0, 1 or 2; got {x_B.shape}, {y_B.shape}, {max_breaks}")
    keep = (x_B > 0) & (y_B > 0) & np.isfinite(x_B) & np.isfinite(y_B)
    lx, ly = np.log(x_B[keep]), np.log(y_B[keep])
    distinct = np.unique(lx)
    if distinct.size < 3:
        raise PhyslensError(f"a piecewise power law needs at least 3 distinct x > 0 with y > 0; got {distinct.size}")
    candidates = (distinct[:-1] + distinct[1:]) / 2
    candidates = candidates[MIN_SEGMENT - 1:candidates.size - MIN_SEGMENT + 1]
    n = lx.size
    best = None
    for n_breaks in range(max_breaks + 1):
        if n < n_breaks + 3:
            break
        for breaks in itertools.combinations(candidates, n_breaks):
            if np.any(np.diff(np.searchsorted(distinct, breaks)) < MIN_SEGMENT):
                continue
            design = _design(lx, breaks)
            coef, *_ = np.linalg.lstsq(design, ly, rcond=None)
            sse = float(np.sum((ly - design @ coef) ** 2))
            bic = n * np.log(max(sse / n, SSE_FLOOR)) + (2 + 2 * n_breaks) * np.log(n)
            if best is None or bic < best[0] - 1e-9:
                best = (bic, breaks, coef, sse)
    bic, breaks, coef, sse = best
    exponents = np.cumsum(coef[1:])
    return PiecewiseFit(tuple(float(np.exp(b)) for b in breaks), tuple(float(k) for k in exponents),
                        tuple(float(c) for c in coef), sse, float(bic), n)


RESOLVED_SEMS = 3.0
"""An error with a statistical uncertainty is resolved from zero when it exceeds this many standard errors; a
transition is sought only between neighbouring resolved levels (``detect_transition``'s ``resolved_L``)."""


@dataclass(frozen=True)
class Transition:
    """The largest error jump along a pruning curve, and where seeds split into branches.

    Attributes:
        density_before: density of the level just before the jump (denser side).
        density_after: density of the level just after it.
        jump_decades: log10(median error after / median error before).
        split_levels: densities at which the seeds split into two branches.
        split_at_transition: whether a split occurs at ``density_before`` or ``density_after``.
        gap_decades_L: largest gap in log10 error between sorted seeds, per level (density order).
    """

    density_before: float
    density_after: float
    jump_decades: float
    split_levels: tuple[float, ...]
    split_at_transition: bool
    gap_decades_L: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """One row: the densities around the jump, ``jump_decades``, ``split_at_transition`` and the
        split densities as text."""
        return pd.DataFrame([{"density_before": self.density_before, "density_after": self.density_after,
                              "jump_decades": self.jump_decades, "split_at_transition": self.split_at_transition,
                              "split_levels": ", ".join(f"{d:.4g}" for d in self.split_levels)}])


def detect_transition(density_L: np.ndarray, error_LS: np.ndarray, split_decades: float = 1.0,
                      resolved_L: np.ndarray | None = None) -> Transition:
    """Locate the error jump of a pruning curve and the levels where seeds split.

    Args:
        density_L: remaining fraction of weights of each of L ≥ 2 levels (any order).
        error_LS: relative error of each of S seeds at each level (positive).
        split_decades: minimum gap in log10 error between two groups of seeds to call a split.
        resolved_L: for errors with a statistical uncertainty (Monte Carlo), whether each level's error is
            resolved from zero; the jump is then sought only between two neighbouring resolved levels (a ratio of
            unresolved errors is noise). None: every level is resolved (exact errors).
    """
    density_L, error_LS = np.asarray(density_L, dtype=float), np.asarray(error_LS, dtype=float)
    if error_LS.ndim != 2 or error_LS.shape[0] != density_L.size or density_L.size < 2:
        raise PhyslensError(f"need error_LS of shape (L, S) with L = len(density_L) >= 2; got {error_LS.shape}, {density_L.shape}")
    if not np.all(error_LS > 0):
        raise PhyslensError("errors must be positive to compare them on a log scale")
    resolved_L = np.ones(density_L.size, bool) if resolved_L is None else np.asarray(resolved_L, bool)
    if resolved_L.shape != density_L.shape:
        raise PhyslensError(f"need one resolved flag per level: {resolved_L.shape} for {density_L.shape}")
    order = np.argsort(-density_L)
    density_L, log_LS, resolved_L = density_L[order], np.log10(error_LS[order]), resolved_L[order]
    counted = resolved_L[:-1] & resolved_L[1:]
    if not counted.any():
        raise PhyslensError("no two neighbouring levels have resolved errors: no jump can be measured")
    jumps = np.where(counted, np.diff(np.median(log_LS, axis=1)), -np.inf)
    at = int(np.argmax(jumps))
    sorted_LS = np.sort(log_LS, axis=1)
    gap_L = np.diff(sorted_LS, axis=1).max(axis=1) if log_LS.shape[1] > 1 else np.zeros(density_L.size)
    split = tuple(float(d) for d, g in zip(density_L, gap_L) if g > split_decades)
    return Transition(float(density_L[at]), float(density_L[at + 1]), float(jumps[at]), split,
                      bool({float(density_L[at]), float(density_L[at + 1])} & set(split)), gap_L)
