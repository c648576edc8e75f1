import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.patterns import (
    afm_pattern, fourier_pattern, pattern_correlation, pattern_scores, standard_patterns, uniform_pattern,
)

N_SITES = 10


@pytest.fixture
def weights_MN():
    return np.random.default_rng(0).normal(size=(7, N_SITES))


def test_afm_score_equals_numpy_corrcoef(weights_MN):
    scores_M = pattern_correlation(weights_MN, afm_pattern(N_SITES))
    expected = [np.corrcoef(w, [(-1.0) ** i for i in range(1, N_SITES + 1)])[0, 1] for w in weights_MN]  # the paper numbers sites 1 … N
    np.testing.assert_allclose(scores_M, expected, atol=1e-14)


@pytest.mark.parametrize("k, kind", [(1, "cos"), (1, "sin"), (3, "cos"), (4, "sin")])
def test_fourier_scores_equal_numpy_corrcoef(weights_MN, k, kind):
    mode = getattr(np, kind)(2 * np.pi * k * np.arange(N_SITES) / N_SITES)
    np.testing.assert_allclose(fourier_pattern(N_SITES, k, kind), mode, atol=1e-12)
    expected = [np.corrcoef(w, mode)[0, 1] for w in weights_MN]
    np.testing.assert_allclose(pattern_correlation(weights_MN, mode), expected, atol=1e-12)


def test_exact_patterns_score_plus_and_minus_one():
    s_N = afm_pattern(N_SITES)
    weights_MN = np.stack([2 * s_N + 0.7, -0.5 * s_N - 3.0])
    np.testing.assert_allclose(pattern_correlation(weights_MN, s_N), [1.0, -1.0], atol=1e-14)


def test_uniform_pattern_uses_the_uncentred_cosine():
    weights_MN = np.stack([np.full(4, 0.3), np.full(4, -2.0), np.array([1.0, -1.0, 2.0, -2.0]), np.array([1.0, 2.0, 3.0, 4.0])])
    scores_M = pattern_correlation(weights_MN, uniform_pattern(4))
    expected_last = 10.0 / (2.0 * np.sqrt(30.0))
    np.testing.assert_allclose(scores_M, [1.0, -1.0, 0.0, expected_last], atol=1e-14)


def test_undefined_scores_are_nan():
    scores_M = pattern_correlation(np.stack([np.full(6, 0.5), np.zeros(6)]), afm_pattern(6))
    assert np.isnan(scores_M).all()
    assert np.isnan(pattern_correlation(np.zeros((1, 6)), uniform_pattern(6))).all()


def test_standard_patterns_and_table(weights_MN):
    patterns = standard_patterns(N_SITES)
    assert list(patterns) == ["afm", "uniform", "cos1", "sin1", "cos2", "sin2", "cos3", "sin3", "cos4", "sin4", "cos5"]
    np.testing.assert_allclose(patterns["cos5"], -patterns["afm"], atol=1e-12)  # cos(πi), i = 0 … N−1; the AFM pattern numbers sites from 1
    scores = pattern_scores(weights_MN, patterns)
    assert scores.scores_MP.shape == (7, len(patterns))
    np.testing.assert_allclose(scores.scores_MP[:, 0], pattern_correlation(weights_MN, patterns["afm"]))
    frame = scores.to_frame()
    assert list(frame["unit"]) == list(range(7)) and "afm" in frame.columns
    best = np.nanargmax(np.abs(scores.scores_MP), axis=1)
    assert list(frame["best"]) == [scores.names[p] for p in best]


def test_bad_patterns_raise(weights_MN):
    with pytest.raises(PhyslensError, match="zero on every site"):
        fourier_pattern(N_SITES, 5, "sin")
    with pytest.raises(PhyslensError, match="unknown Fourier kind"):
        fourier_pattern(N_SITES, 1, "tan")
    with pytest.raises(PhyslensError, match="share the site axis"):
        pattern_correlation(weights_MN, afm_pattern(N_SITES + 1))
    with pytest.raises(PhyslensError, match="zero on every site"):
        pattern_correlation(weights_MN, np.zeros(N_SITES))
