"""Piecewise power laws and transition detection on synthetic curves with known answers."""

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.piecewise import detect_transition, piecewise_power_law


def broken_power_law(x, breaks, exponents, a0=1e-3):
    """y = a0 x^k0 below the first break, continuous, slope changing to k_i past break i (NumPy reference)."""
    lx = np.log(x)
    ly = np.log(a0) + exponents[0] * lx
    for b, dk in zip(np.log(breaks), np.diff(exponents)):
        ly += dk * np.maximum(lx - b, 0.0)
    return np.exp(ly)


def test_two_scaling_regions_are_recovered_exactly():
    x = np.geomspace(0.01, 1.0, 15)
    brk = np.sqrt(x[6] * x[7])
    y = broken_power_law(x, [brk], [-1.5, -0.2])
    fit = piecewise_power_law(x, y)
    assert len(fit.breakpoints) == 1
    assert fit.breakpoints[0] == pytest.approx(brk, rel=1e-12)
    np.testing.assert_allclose(fit.exponents, [-1.5, -0.2], atol=1e-9)
    np.testing.assert_allclose(fit(x), y, rtol=1e-9)


def test_three_regions_and_a_single_power_law_are_told_apart():
    x = np.geomspace(0.01, 1.0, 16)
    b1, b2 = np.sqrt(x[4] * x[5]), np.sqrt(x[10] * x[11])
    three = piecewise_power_law(x, broken_power_law(x, [b1, b2], [-2.0, -0.5, 0.3]))
    np.testing.assert_allclose(three.breakpoints, [b1, b2], rtol=1e-12)
    np.testing.assert_allclose(three.exponents, [-2.0, -0.5, 0.3], atol=1e-9)
    noise = np.exp(np.random.default_rng(0).normal(scale=0.01, size=x.size))
    one = piecewise_power_law(x, 3.0 * x**-0.7 * noise)
    assert one.breakpoints == ()
    assert one.exponents[0] == pytest.approx(-0.7, abs=0.02)


def test_transition_finds_the_jump_and_the_seed_split():
    density = 0.8 ** np.arange(10)
    errors = np.full((10, 4), 1e-3) * np.array([1.0, 1.1, 0.9, 1.05])
    errors[6:] = 1e-1
    errors[5] = [1e-3, 1.2e-3, 2e-1, 1.5e-1]
    tr = detect_transition(density[::-1], errors[::-1])
    medians = np.median(np.log10(errors), axis=1)
    assert medians[5] - medians[4] > medians[6] - medians[5]
    assert tr.density_before == pytest.approx(density[4]) and tr.density_after == pytest.approx(density[5])
    assert tr.jump_decades == pytest.approx(medians[5] - medians[4])
    assert tr.split_levels == (pytest.approx(density[5]),)
    assert tr.split_at_transition


def test_smooth_curve_has_no_split():
    density = 0.7 ** np.arange(8)
    errors = (1e-3 / density)[:, None] * np.array([1.0, 1.3, 0.8])
    tr = detect_transition(density, errors)
    assert tr.split_levels == () and not tr.split_at_transition
    assert tr.jump_decades == pytest.approx(np.log10(1 / 0.7))


def test_jump_is_sought_only_between_neighbouring_resolved_levels():
    density = 0.8 ** np.arange(6)
    errors = np.array([[2e-5], [9e-5], [3e-5], [1e-4], [4e-4], [8e-4]])
    noisy = detect_transition(density, errors)
    assert noisy.density_before == pytest.approx(density[0])            # 2e-5 → 9e-5 is the largest ratio
    resolved = np.array([False, True, False, True, True, True])
    tr = detect_transition(density, errors, resolved_L=resolved)
    assert (tr.density_before, tr.density_after) == (pytest.approx(density[3]), pytest.approx(density[4]))
    assert tr.jump_decades == pytest.approx(np.log10(4.0))
    with pytest.raises(PhyslensError, match="no two neighbouring levels"):
        detect_transition(density, errors, resolved_L=np.array([True, False] * 3))


@pytest.mark.parametrize("call", [
    lambda: piecewise_power_law([1.0, 0.5], [1.0, 2.0]),
    lambda: piecewise_power_law([1.0, 0.5, 0.2], [1.0, 2.0, 3.0], max_breaks=3),
    lambda: detect_transition([1.0], [[1.0]]),
    lambda: detect_transition([1.0, 0.5], [[1.0], [0.0]]),
    lambda: detect_transition([1.0, 0.5], [[1.0], [2.0]], resolved_L=[True]),
])
def test_bad_input_raises(call):
    with pytest.raises(PhyslensError):
        call()
