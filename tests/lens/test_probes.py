"""Linear probes and split features against least squares done by hand."""

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.probes import linear_probe, split_features

RNG = np.random.default_rng(0)


def test_probe_recovers_a_known_linear_law_exactly():
    acts = RNG.normal(size=(500, 4))
    target = 0.3 + acts @ np.array([1.0, -2.0, 0.0, 0.5])
    probe = linear_probe(acts, target)
    np.testing.assert_allclose(probe.coef_D, [1.0, -2.0, 0.0, 0.5], atol=1e-12)
    assert probe.intercept == pytest.approx(0.3, abs=1e-12) and probe.r == pytest.approx(1.0, abs=1e-12)


def test_probe_r_is_the_square_root_of_weighted_r2_of_numpy_least_squares():
    acts = RNG.normal(size=(300, 3))
    target = acts[:, 0] + RNG.normal(size=300)
    weights = RNG.uniform(0.1, 2.0, size=300)
    probe = linear_probe(acts, target, weights)
    design = np.hstack([np.ones((300, 1)), acts]) * np.sqrt(weights)[:, None]
    beta, *_ = np.linalg.lstsq(design, target * np.sqrt(weights), rcond=None)
    np.testing.assert_allclose([probe.intercept, *probe.coef_D], beta, atol=1e-12)
    w = weights / weights.sum()
    residual = target - np.hstack([np.ones((300, 1)), acts]) @ beta
    r2 = 1 - w @ residual**2 / (w @ (target - w @ target) ** 2)
    assert probe.r == pytest.approx(np.sqrt(r2), abs=1e-12)


def test_combination_of_two_features_by_hand():
    a, b = RNG.normal(size=400), RNG.normal(size=400)
    target = a - b + 0.2 * RNG.normal(size=400)
    latents = np.stack([a, b, RNG.normal(size=400)], axis=1)
    W_dec = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    split = split_features(latents, W_dec, target, min_abs_r=0.5)
    assert sorted(split.features_K) == [0, 1]
    for k, feature in enumerate(split.features_K):
        assert split.r_K[k] == pytest.approx(np.corrcoef(latents[:, feature], target)[0, 1], abs=1e-12)
    x = np.stack([np.ones(400), a, b], axis=1)
    fit = x @ np.linalg.lstsq(x, target, rcond=None)[0]
    assert split.combined_r == pytest.approx(np.corrcoef(fit, target)[0, 1], abs=1e-12)
    assert abs(split.cosine_KK[0, 1]) == pytest.approx(1 / np.sqrt(2), abs=1e-12)
    assert list(split.to_frame().columns[:2]) == ["feature", "r"]


def test_bad_inputs_are_refused():
    with pytest.raises(PhyslensError, match="target"):
        linear_probe(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(PhyslensError, match="no feature"):
        split_features(RNG.normal(size=(50, 2)), np.eye(2), RNG.normal(size=50), min_abs_r=0.99)
