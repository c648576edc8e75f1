"""Helix fit to an indexed sequence of points, e.g. the rows of an embedding table.

Kitouni et al. 2024, "From Neurons to Neutrons" (arXiv:2405.17425), find that the
proton- and neutron-number embeddings of a nuclear-data network lie on a helix. This
module fits, to points ``r_t`` in D ≥ 3 dimensions,

    r(t) = R [cos(2πft + φ) u + sin(2πft + φ) v] + P t a + r0

with u, v, a orthonormal, and gives back helix points with R, f or P changed, so a
caller can feed perturbed embeddings to the model::

    fit = fit_helix(emb_TD)                       # rows t = 0..T−1
    fit.radius, fit.frequency, fit.pitch, fit.r2
    emb2_TD = fit.points(radius=2 * fit.radius, with_residual=True)

The fit scans f on a grid, solving the linear parts by least squares at each f (a
periodogram), then refines (f, R, P) with ``scipy.optimize.least_squares`` while the
frame (u, v, a) and offset r0 are solved exactly for each trial (variable projection).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import least_squares

from physlens.errors import PhyslensError
from physlens.lens.geometry import as_matrix


@dataclass(frozen=True)
class HelixFit:
    """A helix ``r(t) = R[cos(2πft + φ)u + sin(2πft + φ)v] + P·t·a + r0`` fitted to points.

    Conventions that remove the fit's symmetries: R ≥ 0, 0 < f (turns per unit of t),
    P ≥ 0 (a points the way t grows), and v is u turned a quarter turn in the sense of
    motion. In the circle's plane, u is the unit vector nearest to the ambient axis
    e_k that lies most in the plane (largest ``u_k² + v_k²``), so its entry k is
    positive; φ ∈ [0, 2π) is then the angle of r(0) measured from u towards v.

    Attributes:
        radius: R (units of the points).
        frequency: f, turns per unit of t; ``1/f`` is the period.
        phase: φ in radians.
        pitch: P, advance along the axis per unit of t (units of the points).
        u_D: first unit vector of the circle's plane.
        v_D: second unit vector of the plane, orthogonal to u.
        axis_D: unit axis a, orthogonal to u and v.
        offset_D: r0, the helix point's centre at t = 0.
        t_T: the index of each fitted point.
        residual_TD: the points minus the fitted helix.
        r2: ``1 − Σ|residual|² / Σ|r_t − mean r|²``.
        scan_frequencies_G: the scanned frequencies.
        scan_r2_G: R² of the unconstrained linear fit ``c + b·t + A cos + B sin`` at each.
    """

    radius: float
    frequency: float
    phase: float
    pitch: float
    u_D: np.ndarray
    v_D: np.ndarray
    axis_D: np.ndarray
    offset_D: np.ndarray
    t_T: np.ndarray
    residual_TD: np.ndarray
    r2: float
    scan_frequencies_G: np.ndarray
    scan_r2_G: np.ndarray

    @property
    def turns(self) -> float:
        """Turns of the helix over the fitted range of t: f · (max t − min t)."""
        return self.frequency * float(np.ptp(self.t_T))

    def points(
        self,
        t_T: ArrayLike | None = None,
        *,
        radius: float | None = None,
        frequency: float | None = None,
        pitch: float | None = None,
        with_residual: bool = False,
    ) -> np.ndarray:
        """Helix points ``(T, D)`` at ``t_T`` (default: the fitted t), optionally perturbed.

        ``radius``, ``frequency`` and ``pitch`` replace the fitted R, f and P; the frame,
        phase and offset stay. ``with_residual`` adds each fitted point's residual back,
        so the points keep whatever the helix does not describe (fitted t only).
        """
        R = self.radius if radius is None else float(radius)
        f = self.frequency if frequency is None else float(frequency)
        P = self.pitch if pitch is None else float(pitch)
        t_T = self.t_T if t_T is None else np.asarray(t_T, dtype=np.float64)
        if with_residual and (t_T.shape != self.t_T.shape or not np.array_equal(t_T, self.t_T)):
            raise PhyslensError("with_residual needs the fitted t; allowed: t_T=None or the fit's own t_T")
        angle_T = 2 * np.pi * f * t_T + self.phase
        r_TD = (
            R * (np.cos(angle_T)[:, None] * self.u_D + np.sin(angle_T)[:, None] * self.v_D)
            + P * t_T[:, None] * self.axis_D
            + self.offset_D
        )
        return r_TD + self.residual_TD if with_residual else r_TD

    def to_frame(self) -> pd.DataFrame:
        """One row with the scalar parameters: R, f, 1/f, φ, P and R²."""
        return pd.DataFrame(
            [
                {
                    "radius": self.radius,
                    "frequency": self.frequency,
                    "period": 1.0 / self.frequency,
                    "phase": self.phase,
                    "pitch": self.pitch,
                    "r2": self.r2,
                }
            ]
        )


def _frame(t_T, f, R, P, y_TD) -> tuple[np.ndarray, np.ndarray]:
    """Best frame for given f, R, P and centred points ``y_TD``, and the centred helix.

    With r0 profiled out the fit is an orthogonal Procrustes problem: maximise
    ``tr(Lᵀ y_TDᵀ w_T3)`` over orthonormal ``L_D3`` (columns u', v', a), solved by the
    polar factor of ``y_TDᵀ w_T3``, with ``w_T3`` = (R cos 2πft, R sin 2πft, P t) centred.
    """
    angle_T = 2 * np.pi * f * t_T
    w_T3 = np.stack([R * np.cos(angle_T), R * np.sin(angle_T), P * t_T], axis=1)
    w_T3 = w_T3 - w_T3.mean(axis=0)
    U_D3, _, Vt_33 = np.linalg.svd(y_TD.T @ w_T3, full_matrices=False)
    L_D3 = U_D3 @ Vt_33
    return L_D3, w_T3 @ L_D3.T


def _scan(r_TD, t_T, freqs_G) -> tuple[np.ndarray, np.ndarray]:
    """Per frequency, the least-squares coefficients ``(G, 4, D)`` of ``[1, t, cos, sin]`` and R²."""
    angle_GT = 2 * np.pi * freqs_G[:, None] * t_T[None, :]
    design_GT4 = np.stack(
        [np.ones_like(angle_GT), np.broadcast_to(t_T, angle_GT.shape), np.cos(angle_GT), np.sin(angle_GT)], axis=-1
    )
    pinv_G4T = np.linalg.pinv(design_GT4)
    y_TD = r_TD - r_TD.mean(axis=0)
    ss_tot = np.sum(y_TD**2)
    ss_fit_G = np.einsum("gtj,td,gjd->g", design_GT4, y_TD, pinv_G4T @ y_TD)
    return pinv_G4T @ r_TD, ss_fit_G / ss_tot


def _start(coef_4D: np.ndarray) -> tuple[float, float]:
    """R and P of the helix nearest to an unconstrained fit ``c + b t + A cos + B sin``.

    R is the mean singular value of [A B] (its polar factor is the nearest circle
    plane); P is the length of b orthogonal to that plane.
    """
    _, b_D, A_D, B_D = coef_4D
    U_D2, s_2, Vt_22 = np.linalg.svd(np.stack([A_D, B_D], axis=1), full_matrices=False)
    plane_D2 = U_D2 @ Vt_22
    return float(s_2.mean()), float(np.linalg.norm(b_D - plane_D2 @ (plane_D2.T @ b_D)))


def _default_freqs(t_T: np.ndarray) -> np.ndarray:
    span = float(t_T.max() - t_T.min())
    f_hi = 0.5 / float(np.min(np.diff(np.sort(t_T))))
    f_lo = 0.5 / span
    return np.linspace(f_lo, f_hi, int(np.ceil(8 * span * (f_hi - f_lo))) + 1)


def fit_helix(points_TD: ArrayLike, t_T: ArrayLike | None = None, *, freqs_G: ArrayLike | None = None) -> HelixFit:
    """Fit a helix to ``points_TD`` (T points in D ≥ 3 dimensions) indexed by ``t_T``.

    ``t_T`` defaults to ``0..T−1`` and must be distinct; the points' units carry to R, P
    and r0. Each frequency of ``freqs_G`` (turns per unit of t; default from half a turn
    over the whole range up to the Nyquist frequency of the smallest spacing, eight
    points per turn-over-the-range) is scored by the R² of the linear least-squares fit
    ``c + b·t + A cos(2πft) + B sin(2πft)``; the best gives starting R and P (circle by
    the polar decomposition of [A B], pitch from b) and (f, R, P) are refined with
    ``scipy.optimize.least_squares`` (Levenberg–Marquardt), the frame and offset being
    solved exactly at every step (orthogonal Procrustes, then the mean).
    """
    r_TD = as_matrix(points_TD, "points_TD", min_rows=5)
    T, D = r_TD.shape
    if D < 3:
        raise PhyslensError(f"points_TD has D={D}; allowed: D >= 3 (a circle plane and an orthogonal axis)")
    t_T = np.arange(T, dtype=np.float64) if t_T is None else np.asarray(t_T, dtype=np.float64)
    if t_T.shape != (T,) or not np.all(np.isfinite(t_T)) or len(np.unique(t_T)) != T:
        raise PhyslensError(f"t_T must be {T} distinct finite numbers, one per point; got shape {t_T.shape}")
    freqs_G = _default_freqs(t_T) if freqs_G is None else np.asarray(freqs_G, dtype=np.float64)
    if freqs_G.ndim != 1 or freqs_G.size == 0 or not np.all(freqs_G > 0):
        raise PhyslensError("freqs_G must be a non-empty 1-D array of positive frequencies (turns per unit of t)")
    coef_G4D, scan_r2_G = _scan(r_TD, t_T, freqs_G)
    best = int(np.argmax(scan_r2_G))
    y_TD = r_TD - r_TD.mean(axis=0)

    def residual(x):
        return (_frame(t_T, *x, y_TD)[1] - y_TD).ravel()

    f, R, P = least_squares(residual, [freqs_G[best], *_start(coef_G4D[best])], method="lm").x
    L_D3 = _frame(t_T, f, R, P, y_TD)[0]
    angle_T = 2 * np.pi * f * t_T
    mean_w_3 = np.array([R * np.cos(angle_T).mean(), R * np.sin(angle_T).mean(), P * t_T.mean()])
    sign_R, sign_f, sign_P = (np.sign(y) or 1.0 for y in (R, f, P))
    u_D, v_D, axis_D = L_D3.T * np.array([sign_R, sign_R * sign_f, sign_P])[:, None]
    k = int(np.argmax(u_D**2 + v_D**2))
    alpha = np.arctan2(v_D[k], u_D[k])
    u_D, v_D = np.cos(alpha) * u_D + np.sin(alpha) * v_D, -np.sin(alpha) * u_D + np.cos(alpha) * v_D
    fit = HelixFit(
        radius=float(abs(R)),
        frequency=float(abs(f)),
        phase=float(np.mod(-alpha, 2 * np.pi)),
        pitch=float(abs(P)),
        u_D=u_D,
        v_D=v_D,
        axis_D=axis_D,
        offset_D=r_TD.mean(axis=0) - L_D3 @ mean_w_3,
        t_T=t_T,
        residual_TD=np.zeros_like(r_TD),
        r2=0.0,
        scan_frequencies_G=freqs_G,
        scan_r2_G=scan_r2_G,
    )
    residual_TD = r_TD - fit.points()
    r2 = 1.0 - np.sum(residual_TD**2) / np.sum((r_TD - r_TD.mean(axis=0)) ** 2)
    return replace(fit, residual_TD=residual_TD, r2=float(r2))
