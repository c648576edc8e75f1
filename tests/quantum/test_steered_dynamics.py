"""Steering a trajectory SAE feature at t₀: the steered log ψ against a NumPy rewrite of the RBM's hidden units,
the identity edit, unitarity of the steered evolution, and the two continuations agreeing at t₀."""

import dataclasses

import numpy as np
import pytest

import physlens  # noqa: F401  (enables float64)
from physlens.errors import PhyslensError
from physlens.lens.sae import decode, encode
from physlens.quantum.quench import evolve_vector, vector_trajectory
from physlens.quantum.steered_dynamics import steer_and_evolve


@pytest.fixture(scope="module")
def feature(features):
    """The feature that fires most often at t₀ (so that steering it moves the state)."""
    return int(np.argmax(features.frequency_KF[0]))


def _rbm_state(variables, sigma_SN, delta_S=0.0):
    params = variables["params"]
    theta_SM = sigma_SN @ np.asarray(params["Dense"]["kernel"]) + np.asarray(params["Dense"]["bias"])
    log_psi_S = sigma_SN @ np.asarray(params["visible_bias"]) + np.log(np.cosh(theta_SM)).sum(axis=1) + delta_S
    psi_S = np.exp(log_psi_S - log_psi_S.real.max())
    return psi_S / np.linalg.norm(psi_S), theta_SM


def test_steered_start_is_the_rbm_with_its_hidden_units_rewritten(evolution, features, feature):
    """An RBM's log ψ is Σ_j (hidden output)_j + a·σ, so the edit adds Σ_j [decode(z') − decode(z)]_j to log ψ,
    with z the SAE code of Re log cosh(θ) computed in NumPy; its m_z and C_zz(1) are then Born sums by hand."""
    strength = 2.5
    steered = steer_and_evolve(evolution, features, feature, [strength], k0=1)
    sigma_SN = features.data.sigma_SN.astype(float)
    _, theta_SM = _rbm_state(evolution.parameters(1), sigma_SN)
    z_SF = np.asarray(encode(features.sae, np.real(np.log(np.cosh(theta_SM)))))
    edited_SF = z_SF.copy()
    edited_SF[:, feature] *= strength
    delta_S = (np.asarray(decode(features.sae, edited_SF)) - np.asarray(decode(features.sae, z_SF))).sum(axis=1)
    assert np.abs(delta_S).max() > 1e-3
    psi_S, _ = _rbm_state(evolution.parameters(1), sigma_SN, delta_S)
    p_S = np.abs(psi_S) ** 2
    m_z_S = sigma_SN.mean(axis=1) / 2
    czz1_S = (sigma_SN * np.roll(sigma_SN, -1, axis=1)).mean(axis=1) / 4
    start = steered.evolve_then_steer[0]
    assert start.m_z_T[0] == pytest.approx(p_S @ m_z_S, abs=1e-12)
    assert start.czz_TR[0, 1] == pytest.approx(p_S @ czz1_S, abs=1e-12)
    assert steered.steer_then_evolve[0].czz_TR[0, 1] == pytest.approx(p_S @ czz1_S, abs=1e-12)


def test_identity_edit_is_the_network_and_its_exact_evolution(evolution, features, feature):
    steered = steer_and_evolve(evolution, features, feature, [1.0], k0=0)
    np.testing.assert_allclose(steered.evolve_then_steer[0].czz_TR, steered.nqs.czz_TR, atol=1e-14)
    np.testing.assert_allclose(steered.steer_then_evolve[0].m_x_T, steered.reference.m_x_T, atol=1e-14)
    np.testing.assert_allclose(steered.overlap_KT, 1.0, atol=1e-12)
    system = evolution.config.build_quench().after
    psi0_S, _ = _rbm_state(evolution.parameters(0), features.data.sigma_SN.astype(float))
    times_T = evolution.nqs.times_T
    by_hand = vector_trajectory(system, evolve_vector(system.sparse_hamiltonian(), psi0_S, times_T), times_T, "x")
    np.testing.assert_allclose(steered.reference.m_x_T, by_hand.m_x_T, atol=1e-12)
    np.testing.assert_allclose(steered.tdvp_fidelity_T[0], 1.0, atol=1e-12)


def test_steered_evolution_is_unitary_and_both_ways_agree_at_t0(evolution, features, feature):
    steered = steer_and_evolve(evolution, features, feature, [0.0, 3.0], k0=1)
    assert steered.times_T[0] == pytest.approx(evolution.nqs.times_T[1])
    for k in range(2):
        energy_T = steered.steer_then_evolve[k].energy_T
        np.testing.assert_allclose(energy_T, energy_T[0], atol=1e-10)
        np.testing.assert_allclose(steered.overlap_KT[k], steered.overlap_KT[k, 0], atol=1e-10)
        assert steered.overlap_KT[k, 0] < 1 - 1e-6
    assert steered.commute_KT[:, 0] == pytest.approx(1.0, abs=1e-12)
    frame = steered.frame()
    at_t0 = frame[frame.t == steered.times_T[0]]
    np.testing.assert_allclose(at_t0.delta_propagated, at_t0.delta_feature, atol=1e-12)
    assert set(frame.observable) >= {"m_x", "m_z", "czz_1", "half_chain", "energy"}
    assert len(frame) == 2 * len(steered.times_T) * frame.observable.nunique()


@pytest.mark.parametrize("kwargs, match", [({"k0": 3}, "k0 must be"), ({"mode": "push"}, "steering mode"),
                                           ({"strengths": []}, "at least one")])
def test_bad_requests_are_refused(evolution, features, feature, kwargs, match):
    args = {"strengths": [2.0], **kwargs}
    with pytest.raises(PhyslensError, match=match):
        steer_and_evolve(evolution, features, feature, **args)


def test_an_sae_on_moduli_is_refused(evolution, features):
    moduli = dataclasses.replace(features, data=dataclasses.replace(features.data, part="abs"))
    with pytest.raises(PhyslensError, match="real part"):
        steer_and_evolve(evolution, moduli, 0, [2.0])
