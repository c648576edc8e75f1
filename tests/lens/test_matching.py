"""Tests of feature ↔ observable matching against a NumPy reference loop."""

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.matching import match_features, weighted_correlation


def reference_r(a_S, o_S, w_S):
    """Weighted Pearson r written out term by term."""
    w_S = w_S / w_S.sum()
    ma, mo = sum(w * a for w, a in zip(w_S, a_S)), sum(w * o for w, o in zip(w_S, o_S))
    cov = sum(w * (a - ma) * (o - mo) for w, a, o in zip(w_S, a_S, o_S))
    va = sum(w * (a - ma) ** 2 for w, a in zip(w_S, a_S))
    vo = sum(w * (o - mo) ** 2 for w, o in zip(w_S, o_S))
    return cov / np.sqrt(va * vo)


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    s, f = 200, 7
    obs = {"m": rng.normal(size=s), "|m|": np.abs(rng.normal(size=s)), "noise": rng.normal(size=s)}
    acts_SF = np.maximum(rng.normal(size=(s, f)), 0)
    acts_SF[:, 2] = np.maximum(3 * obs["m"] + 0.1 * rng.normal(size=s), 0)
    acts_SF[:, 5] = 2 * obs["|m|"] + 0.05 * rng.normal(size=s)
    acts_SF[:, 6] = 0.0
    return acts_SF, obs, rng.uniform(0.1, 2.0, size=s)


def test_correlation_matrix_matches_reference_loop(data):
    acts_SF, obs, w_S = data
    r_FO = weighted_correlation(acts_SF, np.stack(list(obs.values()), axis=1), w_S)
    for f in range(6):
        for o, values in enumerate(obs.values()):
            assert r_FO[f, o] == pytest.approx(reference_r(acts_SF[:, f], values, w_S), abs=1e-12)
    assert np.all(r_FO[6] == 0.0)


def test_uniform_weights_are_plain_pearson(data):
    acts_SF, obs, _ = data
    r_FO = weighted_correlation(acts_SF[:, :6], obs["m"][:, None])
    expected = [np.corrcoef(acts_SF[:, f], obs["m"])[0, 1] for f in range(6)]
    np.testing.assert_allclose(r_FO[:, 0], expected, atol=1e-12)


def test_match_labels_best_features_and_uncaptured(data):
    acts_SF, obs, w_S = data
    match = match_features(acts_SF, obs, w_S, threshold=0.5, exact=True)
    assert match.best_feature("m") == 2
    assert match.best_feature("|m|") == 5
    assert match.observables[match.best_observable_F[5]] == "|m|"
    assert match.best_abs_r_F[5] > 0.99
    assert match.uncaptured == ("noise",)
    w = w_S / w_S.sum()
    np.testing.assert_allclose(match.frequency_F, [(w * (acts_SF[:, f] > 0)).sum() for f in range(7)], atol=1e-12)
    frame = match.to_frame()
    assert list(frame["best_observable"])[5] == "|m|" and frame.loc[5, "abs_r"] == pytest.approx(match.best_abs_r_F[5])
    obs_frame = match.observable_frame()
    assert list(obs_frame["captured"]) == [True, True, False]
    assert match.label(5).startswith("|m| (r = +")


def test_bad_input_raises(data):
    acts_SF, obs, w_S = data
    with pytest.raises(PhyslensError):
        match_features(acts_SF, {"m": obs["m"][:10]}, exact=True)
    with pytest.raises(PhyslensError):
        match_features(acts_SF, {}, exact=True)
    with pytest.raises(PhyslensError):
        match_features(acts_SF, obs, -w_S, exact=True)
    with pytest.raises(PhyslensError):
        match_features(acts_SF, obs, threshold=1.5, exact=True)
    with pytest.raises(PhyslensError):
        match_features(acts_SF, obs, exact=True).best_feature("energy")
