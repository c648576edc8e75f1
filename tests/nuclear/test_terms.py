"""Tests of the SEMF and shell-correction terms against hand values and a direct lstsq."""

import math

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.nuclear.data import STUDY_NMIN, STUDY_ZMIN, load_ame2020
from physlens.nuclear.terms import (
    SEMF_COEFFICIENTS,
    fit_semf,
    fit_shell_correction,
    pairing_delta,
    semf_terms,
    term_vectors,
    valence_distance,
    valence_factor,
)


@pytest.fixture(scope="module")
def nuclei():
    table = load_ame2020(experimental_only=True, zmin=STUDY_ZMIN, nmin=STUDY_NMIN)
    return table.Z.to_numpy(), table.N.to_numpy(), table.B.to_numpy() / 1000.0


def _textbook_row(z: int, n: int) -> list[float]:
    """B = a_V A − a_S A^(2/3) − a_C Z(Z−1)/A^(1/3) − a_A (N−Z)²/A + a_P δ, δ = ±A^(−1/2) or 0."""
    a = z + n
    if z % 2 == 0 and n % 2 == 0:
        delta = a**-0.5
    elif z % 2 == 1 and n % 2 == 1:
        delta = -(a**-0.5)
    else:
        delta = 0.0
    return [a, -(a ** (2 / 3)), -z * (z - 1) / a ** (1 / 3), -((n - z) ** 2) / a, delta]


def test_pairing_sign_convention():
    delta = pairing_delta([82, 7, 8, 9, 5], [126, 7, 9, 8, 5])  # 208Pb, 14N, 17O, 17F, 10B
    np.testing.assert_allclose(delta, [1 / math.sqrt(208), -1 / math.sqrt(14), 0.0, 0.0, -1 / math.sqrt(10)])


def test_semf_terms_by_hand():
    terms = semf_terms([26], [30])  # 56Fe
    assert terms["volume"][0] == 56.0
    assert terms["surface"][0] == pytest.approx(56 ** (2 / 3), rel=1e-15)
    assert terms["coulomb"][0] == pytest.approx(26 * 25 / 56 ** (1 / 3), rel=1e-15)
    assert terms["asymmetry"][0] == pytest.approx(16 / 56, rel=1e-15)
    assert terms["pairing"][0] == pytest.approx(1 / math.sqrt(56), rel=1e-15)


def test_valence_distance_and_factor_by_hand():
    assert valence_distance([0, 2, 8, 14, 24, 39, 66, 100, 150]).tolist() == [2, 0, 0, 6, 4, 11, 16, 18, 24]
    z = [82, 8, 20, 26, 62, 94, 50]
    n = [126, 8, 28, 30, 92, 146, 70]
    # 208Pb, 16O, 48Ca doubly magic; 56Fe 2·2/4; 154Sm 12·10/22; 240Pu 12·20/32; 120Sn Z magic
    np.testing.assert_allclose(valence_factor(z, n), [0.0, 0.0, 0.0, 1.0, 120 / 22, 240 / 32, 0.0], rtol=1e-15)


def test_term_vectors_are_named_and_aligned():
    z, n = np.array([8, 26, 82]), np.array([8, 30, 126])
    terms = term_vectors(z, n)
    assert {"volume", "surface", "coulomb", "asymmetry", "pairing", "shell_P", "shell_P2"} <= set(terms)
    assert all(v.shape == (3,) and v.dtype == np.float64 for v in terms.values())
    np.testing.assert_array_equal(terms["shell_P2"], valence_factor(z, n) ** 2)


def test_fit_recovers_exact_coefficients():
    rng = np.random.default_rng(0)
    z = rng.integers(8, 100, size=300)
    n = z + rng.integers(0, 50, size=300)
    truth = np.array([15.8, 18.3, 0.714, 23.2, 12.0])
    binding = np.array([_textbook_row(int(a), int(b)) for a, b in zip(z, n)]) @ truth
    fit = fit_semf(z, n, binding)
    np.testing.assert_allclose([fit.coefficients[c] for c in SEMF_COEFFICIENTS], truth, rtol=1e-9)
    assert fit.rms < 1e-9


def test_semf_fit_matches_direct_lstsq(nuclei):
    z, n, binding = nuclei
    design = np.array([_textbook_row(int(a), int(b)) for a, b in zip(z, n)])
    coef, *_ = np.linalg.lstsq(design, binding, rcond=None)
    rms = np.sqrt(np.mean((binding - design @ coef) ** 2))
    fit = fit_semf(z, n, binding)
    np.testing.assert_allclose([fit.coefficients[c] for c in SEMF_COEFFICIENTS], coef, rtol=1e-9)
    assert fit.rms == pytest.approx(rms, rel=1e-9)
    np.testing.assert_allclose(fit.residuals, binding - design @ coef, atol=1e-8)
    frame = fit.to_frame()
    assert len(frame) == len(z) and np.allclose(frame.residual_MeV, fit.residuals)


def test_semf_coefficients_have_textbook_magnitudes(nuclei):
    fit = fit_semf(*nuclei)
    c = fit.coefficients
    assert 15.0 < c["a_V"] < 16.0
    assert 16.0 < c["a_S"] < 19.0
    assert 0.6 < c["a_C"] < 0.8
    assert 21.0 < c["a_A"] < 25.0
    assert 9.0 < c["a_P"] < 14.0
    assert 2.0 < fit.rms < 4.0


def test_shell_fit_matches_direct_lstsq(nuclei):
    z, n, binding = nuclei
    residual = fit_semf(z, n, binding).residuals
    p = np.array([_p_by_loop(int(a), int(b)) for a, b in zip(z, n)])
    design = np.stack([p, p**2], axis=1)
    coef, *_ = np.linalg.lstsq(design, residual, rcond=None)
    shell = fit_shell_correction(z, n, residual)
    np.testing.assert_allclose([shell.a1, shell.a2], coef, rtol=1e-9)
    assert shell.rms == pytest.approx(np.sqrt(np.mean((residual - design @ coef) ** 2)), rel=1e-9)
    assert shell.rms_before == pytest.approx(np.sqrt(np.mean(residual**2)), rel=1e-12)
    assert shell.rms <= shell.rms_before
    assert np.allclose(shell.to_frame().P, p)


def _p_by_loop(z: int, n: int) -> float:
    magic = [2, 8, 20, 28, 50, 82, 126]
    nu_z = min(abs(z - m) for m in magic)
    nu_n = min(abs(n - m) for m in magic)
    return 0.0 if nu_z + nu_n == 0 else nu_z * nu_n / (nu_z + nu_n)


def test_bad_input_raises():
    with pytest.raises(PhyslensError, match="one length"):
        semf_terms([8, 9], [8])
    with pytest.raises(PhyslensError, match="whole numbers"):
        semf_terms([8.5], [8])
    with pytest.raises(PhyslensError, match="A = Z \\+ N ≥ 1"):
        pairing_delta([0], [0])
    with pytest.raises(PhyslensError, match="at least 5 nuclei"):
        fit_semf([8, 9], [8, 9], [1.0, 2.0])
    with pytest.raises(PhyslensError, match="finite values"):
        fit_semf([8] * 6, [8] * 6, [1.0] * 5)
    with pytest.raises(PhyslensError, match="non-negative whole"):
        valence_distance([-1])
