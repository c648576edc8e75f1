"""Power-law fits y = a·x^k by least squares in log–log space, with standard errors and R².

Used for how the number of important units grows with system size (m′ = a·N^k) and,
later, for error-vs-sparsity scaling regions.

    fit = power_law_fit(N_B, m_B)
    fit.k, fit.k_se, fit.r2, fit.degenerate, fit.n_excluded
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from physlens.errors import PhyslensError


@dataclass(frozen=True)
class PowerLawFit:
    """y = a·x^k fitted as log y = log a + k log x by ordinary least squares.

    Attributes:
        a: prefactor (units of y).
        k: exponent.
        a_se: standard error of a (propagated from that of log a).
        k_se: standard error of k (NaN for a degenerate fit).
        r2: coefficient of determination of the log–log fit (NaN for a degenerate fit).
        n: number of points used (those with x > 0 and y > 0).
        n_excluded: points left out because y ≤ 0 or a value is not finite (m′ = 0 models, say): counted,
            never silently dropped.
        degenerate: fewer than three distinct x, or no variance in y: a line through the points says
            nothing about its quality, so R² and the standard errors are NaN rather than 1 and 0.
    """

    a: float
    k: float
    a_se: float
    k_se: float
    r2: float
    n: int
    n_excluded: int = 0
    degenerate: bool = False

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.a * np.asarray(x, dtype=float) ** self.k


def power_law_fit(x_B: np.ndarray, y_B: np.ndarray) -> PowerLawFit:
    """Fit y = a·x^k to the points with x, y > 0 (at least two distinct x)."""
    x_B, y_B = np.asarray(x_B, dtype=float), np.asarray(y_B, dtype=float)
    keep = (x_B > 0) & (y_B > 0) & np.isfinite(x_B) & np.isfinite(y_B)
    lx, ly = np.log(x_B[keep]), np.log(y_B[keep])
    n, excluded = lx.size, int((~keep).sum())
    if n < 2 or np.ptp(lx) == 0:
        raise PhyslensError(f"a power-law fit needs at least two points with distinct x > 0 and y > 0; got {n}")
    design = np.stack([np.ones(n), lx], axis=1)
    coef, *_ = np.linalg.lstsq(design, ly, rcond=None)
    resid = ly - design @ coef
    ss_tot = np.sum((ly - ly.mean()) ** 2)
    a = float(np.exp(coef[0]))
    if ss_tot == 0:  # every y equal: the slope is exactly 0 (least squares leaves rounding of order 1e-16)
        return PowerLawFit(float(y_B[keep][0]), 0.0, float("nan"), float("nan"), float("nan"), n, excluded, True)
    if np.unique(lx).size < 3:
        return PowerLawFit(a, float(coef[1]), float("nan"), float("nan"), float("nan"), n, excluded, True)
    cov = np.sum(resid**2) / (n - 2) * np.linalg.inv(design.T @ design)
    log_a_se, k_se = np.sqrt(np.diag(cov))
    r2 = 1.0 - np.sum(resid**2) / ss_tot
    return PowerLawFit(a, float(coef[1]), a * float(log_a_se), float(k_se), float(r2), n, excluded)
