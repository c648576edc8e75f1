"""SAE features along a TDVP trajectory: Born weights, activations and local observables against independent
computations from the saved parameters, and the correlation table against a NumPy weighted Pearson r."""

import jax
import numpy as np
import pytest

import physlens  # noqa: F401  (enables float64)
from physlens.errors import PhyslensError
from physlens.lens.sae import encode
from physlens.quantum.registry import model_from_spec
from physlens.quantum.trajectory_features import collect_trajectory

N_SITES = 6
D_SAE = 8
"""Sites and latents of the shared ``evolution`` and ``features`` fixtures (``tests/quantum/conftest.py``)."""


@pytest.fixture
def result(features):
    return features


def test_born_weights_and_activations_follow_the_saved_parameters(result, evolution):
    """|ψ(t_k)|²/Σ|ψ(t_k)|² and Re log cosh(σ·W + b) computed in NumPy from the parameters at t_k."""
    data = result.data
    sigma_SN = data.sigma_SN.astype(float)
    model = model_from_spec(evolution.config.model)
    for k in range(len(evolution.fidelity_T)):
        variables = evolution.parameters(k)
        params = variables["params"]
        theta_SM = sigma_SN @ np.asarray(params["Dense"]["kernel"]) + np.asarray(params["Dense"]["bias"])
        log_psi_S = sigma_SN @ np.asarray(params["visible_bias"]) + np.log(np.cosh(theta_SM)).sum(axis=1)
        np.testing.assert_allclose(np.asarray(model.apply(variables, sigma_SN)), log_psi_S, atol=1e-12)
        p_S = np.abs(np.exp(log_psi_S)) ** 2
        assert data.weights_KS[k].sum() == pytest.approx(1.0, abs=1e-14)
        np.testing.assert_allclose(data.weights_KS[k], p_S / p_S.sum(), rtol=1e-10, atol=1e-16)
        np.testing.assert_allclose(data.log_psi_KS[k], log_psi_S, atol=1e-12)
        np.testing.assert_allclose(data.acts_KSD[k], np.real(np.log(np.cosh(theta_SM))), atol=1e-12)
    assert not np.allclose(data.weights_KS[0], data.weights_KS[-1])


def test_local_observables_average_to_the_evolutions_measurements(result, evolution):
    """Born averages of local m_x, c_nn (= C_zz(1) on a ring) and e_loc equal the full-sum m_x(t), C_zz(1, t) and
    E(t) the evolution recorded."""
    data, nqs = result.data, evolution.nqs
    mean = {name: np.einsum("ks,ks->k", data.weights_KS, values) for name, values in data.observables.items()}
    np.testing.assert_allclose(mean["m_x"], nqs.m_x_T, atol=1e-10)
    np.testing.assert_allclose(mean["c_nn"], nqs.czz_TR[:, 1], atol=1e-10)
    np.testing.assert_allclose(mean["e_loc"], nqs.energy_T, atol=1e-9)
    assert np.ptp(nqs.m_x_T) > 1e-3


def weighted_pearson(x_S, y_S, w_S):
    w_S = w_S / w_S.sum()
    dx_S, dy_S = x_S - w_S @ x_S, y_S - w_S @ y_S
    return (w_S @ (dx_S * dy_S)) / np.sqrt((w_S @ dx_S**2) * (w_S @ dy_S**2))


def test_correlation_table_matches_a_numpy_weighted_pearson(result):
    data, k = result.data, 2
    latents_SF = np.asarray(jax.jit(encode)(result.sae, data.acts_KSD[k]))
    np.testing.assert_allclose(result.latents_KSF[k], latents_SF, atol=1e-12)
    feature = int(np.argmax(np.cov(latents_SF.T, aweights=data.weights_KS[k]).diagonal()))
    for name in ("m_x", "c_nn", "abs_m_z"):
        r = weighted_pearson(latents_SF[:, feature], data.observables[name][k], data.weights_KS[k])
        assert result.r_KFO[k, feature, result.index(name)] == pytest.approx(r, abs=1e-12)
        np.testing.assert_allclose(result.r_of(feature, name)[k], r, atol=1e-12)
    assert np.abs(result.r_KFO).max() > 0.3


def test_shapes_and_best_feature_tables(result):
    n_times, n_states, n_features = 4, 2**N_SITES, D_SAE
    n_obs = len(result.observables)
    assert {"m_x", "c_nn", "e_loc"} <= set(result.observables)
    assert result.data.acts_KSD.shape == (n_times, n_states, N_SITES)
    assert result.latents_KSF.shape == (n_times, n_states, n_features)
    assert result.r_KFO.shape == (n_times, n_features, n_obs)
    assert result.frequency_KF.shape == (n_times, n_features)
    np.testing.assert_allclose(result.times_K, [0.0, 0.1, 0.2, 0.3], atol=1e-12)
    best_KO = result.best_feature_KO
    np.testing.assert_array_equal(result.best_abs_r_KO, np.abs(result.r_KFO).max(axis=1))
    np.testing.assert_array_equal(result.stable_O, [len(set(best_KO[:, o])) == 1 for o in range(n_obs)])
    tracking = result.tracking_frame()
    assert len(tracking) == n_times * n_obs and len(result.frame()) == n_times * n_features * n_obs
    row = tracking[(tracking.t == result.times_K[1]) & (tracking.observable == "m_x")].iloc[0]
    assert row.best_feature == best_KO[1, result.index("m_x")]
    assert row.abs_r == pytest.approx(result.best_abs_r_KO[1, result.index("m_x")])


def test_modulus_part_and_bad_inputs(evolution):
    data = collect_trajectory(evolution, part="abs", saved=[0, 3])
    real = collect_trajectory(evolution, saved=[3])
    np.testing.assert_allclose(data.times_K, [0.0, 0.3], atol=1e-12)
    assert np.all(data.acts_KSD >= 0) and np.all(data.acts_KSD[1] >= np.abs(real.acts_KSD[0]) - 1e-15)
    with pytest.raises(PhyslensError, match="part"):
        collect_trajectory(evolution, part="phase")
    with pytest.raises(PhyslensError, match="saved times"):
        collect_trajectory(evolution, saved=[4])
