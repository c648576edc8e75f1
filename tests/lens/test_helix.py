"""Tests for physlens.lens.helix: recovering a synthetic noisy helix and perturbing it."""

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.helix import fit_helix


def _helix(t_T, R, f, P, phi, D, seed):
    """A noiseless helix with a random orthonormal frame and offset, and its parts."""
    rng = np.random.default_rng(seed)
    Q_D3, _ = np.linalg.qr(rng.normal(size=(D, 3)))
    u_D, v_D, a_D = Q_D3.T
    r0_D = rng.normal(size=D)
    angle_T = 2 * np.pi * f * t_T + phi
    r_TD = R * (np.cos(angle_T)[:, None] * u_D + np.sin(angle_T)[:, None] * v_D) + P * t_T[:, None] * a_D + r0_D
    return r_TD, u_D, v_D, a_D, r0_D, rng


@pytest.mark.parametrize(
    ("t_T", "R", "f", "P", "phi", "sigma"),
    [
        (np.arange(100.0), 2.0, 1 / 7.3, 0.05, 0.7, 0.05),
        (np.arange(8.0, 120.0), 1.0, 0.21, 0.4, 4.0, 0.03),
    ],
)
def test_fit_recovers_noisy_helix_in_16_dimensions(t_T, R, f, P, phi, sigma):
    D = 16
    clean_TD, u_D, v_D, a_D, r0_D, rng = _helix(t_T, R, f, P, phi, D, seed=0)
    fit = fit_helix(clean_TD + sigma * rng.normal(size=clean_TD.shape), t_T)

    assert fit.radius == pytest.approx(R, rel=0.01)
    assert fit.frequency == pytest.approx(f, rel=1e-3)
    assert fit.turns == pytest.approx(f * (np.max(t_T) - np.min(t_T)), rel=1e-3)
    assert fit.pitch == pytest.approx(P, rel=0.02)
    plane_true_DD = np.outer(u_D, u_D) + np.outer(v_D, v_D)
    plane_fit_DD = np.outer(fit.u_D, fit.u_D) + np.outer(fit.v_D, fit.v_D)
    assert np.linalg.norm(plane_true_DD - plane_fit_DD, 2) < 0.05
    assert fit.axis_D @ a_D > 0.999
    assert np.sqrt(np.mean((fit.points() - clean_TD) ** 2)) < sigma / 2
    assert fit.r2 > 0.98

    # Phase convention: u is the in-plane unit vector nearest the ambient axis k with the
    # largest in-plane weight; in the true frame that is u = cos α u_true + sin α v_true.
    k = int(np.argmax(u_D**2 + v_D**2))
    alpha = np.arctan2(v_D[k], u_D[k])
    dphi = np.angle(np.exp(1j * (fit.phase - (phi - alpha))))
    assert abs(dphi) < 0.03
    assert fit.u_D[k] > 0 and 0.0 <= fit.phase < 2 * np.pi


def test_frame_is_orthonormal_and_oriented_with_motion():
    t_T = np.arange(60.0)
    clean_TD, *_ = _helix(t_T, 1.5, 0.13, 0.1, 2.0, D=8, seed=3)
    fit = fit_helix(clean_TD, t_T)
    Q_D3 = np.stack([fit.u_D, fit.v_D, fit.axis_D], axis=1)
    np.testing.assert_allclose(Q_D3.T @ Q_D3, np.eye(3), atol=1e-10)
    assert fit.r2 == pytest.approx(1.0, abs=1e-10)
    # the in-plane angle of r(t) − r0 grows by 2πf per unit of t (mod 2π)
    rel_TD = clean_TD - fit.offset_D
    angle_T = np.arctan2(rel_TD @ fit.v_D, rel_TD @ fit.u_D)
    steps_T = np.mod(np.diff(angle_T), 2 * np.pi)
    np.testing.assert_allclose(steps_T, 2 * np.pi * 0.13, atol=1e-6)


def test_perturbed_points():
    t_T = np.arange(50.0)
    clean_TD, *_ = _helix(t_T, 2.0, 0.11, 0.2, 1.0, D=6, seed=5)
    noisy_TD = clean_TD + 0.02 * np.random.default_rng(9).normal(size=clean_TD.shape)
    fit = fit_helix(noisy_TD, t_T)

    np.testing.assert_allclose(fit.points(with_residual=True), noisy_TD, atol=1e-12)
    wide_TD = fit.points(radius=3.0) - fit.offset_D - fit.pitch * t_T[:, None] * fit.axis_D
    np.testing.assert_allclose(np.linalg.norm(wide_TD, axis=1), 3.0, rtol=1e-12)
    np.testing.assert_allclose((fit.points(pitch=0.0) - fit.offset_D) @ fit.axis_D, 0.0, atol=1e-12)
    slow_TD = fit.points(frequency=0.05) - fit.offset_D
    angle_T = np.arctan2(slow_TD @ fit.v_D, slow_TD @ fit.u_D)
    np.testing.assert_allclose(np.mod(np.diff(angle_T), 2 * np.pi), 2 * np.pi * 0.05, atol=1e-10)
    assert fit.points(np.array([0.5, 1.5])).shape == (2, 6)
    with pytest.raises(PhyslensError):
        fit.points(np.array([0.5, 1.5]), with_residual=True)
    assert list(fit.to_frame().columns) == ["radius", "frequency", "period", "phase", "pitch", "r2"]


def test_fit_rejects_bad_input():
    with pytest.raises(PhyslensError):
        fit_helix(np.zeros((20, 2)))
    with pytest.raises(PhyslensError):
        fit_helix(np.random.default_rng(0).normal(size=(20, 4)), t_T=np.zeros(20))
