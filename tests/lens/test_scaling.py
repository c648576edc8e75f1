"""Power-law fits against closed forms and an independent statsmodels-free OLS."""

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.scaling import power_law_fit


def test_exact_power_law_is_recovered():
    x = np.array([8, 10, 12, 16, 20.0])
    fit = power_law_fit(x, 0.7 * x**0.4)
    assert fit.a == pytest.approx(0.7, rel=1e-12) and fit.k == pytest.approx(0.4, rel=1e-12)
    assert fit.r2 == pytest.approx(1.0) and fit.k_se == pytest.approx(0.0, abs=1e-12)


def test_standard_error_matches_the_ols_formula():
    rng = np.random.default_rng(3)
    x = np.repeat([8, 10, 12, 14, 16, 18, 20.0], 5)
    y = 1.3 * x**0.45 * np.exp(0.05 * rng.standard_normal(x.size))
    fit = power_law_fit(x, y)
    lx, ly = np.log(x), np.log(y)
    k = np.cov(lx, ly, bias=True)[0, 1] / np.var(lx)
    resid = ly - (ly.mean() + k * (lx - lx.mean()))
    se = np.sqrt(np.sum(resid**2) / (x.size - 2) / np.sum((lx - lx.mean()) ** 2))
    assert fit.k == pytest.approx(k, rel=1e-10)
    assert fit.k_se == pytest.approx(se, rel=1e-10)
    assert fit.r2 == pytest.approx(1 - np.sum(resid**2) / np.sum((ly - ly.mean()) ** 2), rel=1e-10)


def test_non_positive_points_are_counted_and_too_few_rejected():
    fit = power_law_fit([1, 2, 4, 8, 16], [0, 2, 4, 8, 16])
    assert fit.n == 4 and fit.n_excluded == 1 and fit.k == pytest.approx(1.0) and not fit.degenerate
    with pytest.raises(PhyslensError, match="at least two points"):
        power_law_fit([2, 2], [1, 3])


@pytest.mark.parametrize("x, y", [([8, 12], [1, 3]), ([8, 8, 12, 12], [1, 2, 3, 5]), ([8, 10, 12], [2, 2, 2])])
def test_degenerate_fits_are_flagged_not_perfect(x, y):
    """Two distinct sizes, or no variance in y: R² and SE are undefined, never 1 and 0."""
    fit = power_law_fit(x, y)
    assert fit.degenerate and np.isnan(fit.r2) and np.isnan(fit.k_se) and np.isnan(fit.a_se)


@pytest.mark.parametrize("x, y", [([8, 12], [0.2, 0.2]), ([8, 10, 12, 14], [3.7, 3.7, 3.7, 3.7])])
def test_equal_values_fit_a_slope_of_exactly_zero(x, y):
    """No variance in y: the power law is the constant y itself, k = 0 exactly (not a rounding residue)."""
    fit = power_law_fit(x, y)
    assert fit.k == 0.0 and fit.a == y[0] and fit.degenerate
