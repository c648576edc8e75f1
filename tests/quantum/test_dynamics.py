"""Quench dynamics: exact Krylov evolution against a dense matrix exponential, TDVP against closed forms, resume."""

import functools
import operator

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest
import scipy.linalg

import physlens  # noqa: F401  (enables float64)
from physlens.errors import PhyslensError
from physlens.quantum.dynamics import EvolveConfig, complex_start, evolve, load, neel_start, resume
from physlens.quantum.models import RBM
from physlens.quantum.quench import (Quench, evolve_vector, exact_states, exact_trajectory, neel_configuration,
                                     neel_vector, time_grid, vector_trajectory)
from physlens.quantum.registry import model_from_spec
from physlens.quantum.systems import HeisenbergRing, TFIMChain


def dense_evolution(system, psi0_S, times_T):
    h_SS = system.sparse_hamiltonian().toarray()
    return np.stack([scipy.linalg.expm(-1j * t * h_SS) @ psi0_S for t in times_T])


def random_state(n_states, seed=0):
    rng = np.random.default_rng(seed)
    psi_S = rng.normal(size=n_states) + 1j * rng.normal(size=n_states)
    return psi_S / np.linalg.norm(psi_S)


def test_exact_evolution_of_two_sites_matches_dense_expm():
    system = TFIMChain(2, h=0.7, pbc=False)
    times_T = time_grid(3.0, 0.25)
    psi0_S = random_state(4)
    np.testing.assert_allclose(evolve_vector(system.sparse_hamiltonian(), psi0_S, times_T),
                               dense_evolution(system, psi0_S, times_T), atol=1e-12)


@pytest.mark.parametrize("quench", [Quench.tfim(8, h_before=0.5, h_after=1.0), Quench.neel(HeisenbergRing(8))],
                         ids=["tfim-8", "heisenberg-8-neel"])
def test_exact_evolution_of_eight_sites_matches_dense_expm(quench):
    times_T = time_grid(2.0, 0.2)
    expected_TS = dense_evolution(quench.after, quench.initial_vector(), times_T)
    np.testing.assert_allclose(exact_states(quench, times_T), expected_TS, atol=1e-10)


def test_exact_evolution_conserves_energy():
    quench = Quench.tfim(8, h_before=0.5, h_after=1.0)
    traj = exact_trajectory(quench, time_grid(10.0, 0.5))
    psi0_S = quench.initial_vector()
    e0 = np.real(np.vdot(psi0_S, quench.after.sparse_hamiltonian() @ psi0_S))
    np.testing.assert_allclose(traj.energy_T, e0, rtol=0, atol=1e-10)
    assert np.max(np.abs(traj.energy_drift_T)) < 1e-10
    assert e0 > quench.after.exact().energy + 0.1


def pauli_sum(hilbert, groups, letter):
    """Σ over groups of the product of σ^letter on the group's sites (a NetKet operator)."""
    op = getattr(nk.operator.spin, f"sigma{letter}")
    return sum(functools.reduce(operator.matmul, [op(hilbert, i) for i in group]) for group in groups)


def test_observables_of_a_state_match_netket_operators():
    system = TFIMChain(6, h=1.0)
    psi_S = random_state(2**6, seed=3)
    traj = vector_trajectory(system, psi_S[None], np.zeros(1), "test")
    hilbert, n = system.hilbert, 6

    def expect(observable):
        return np.real(np.vdot(psi_S, observable.to_sparse() @ psi_S))

    assert traj.m_x_T[0] == pytest.approx(expect(pauli_sum(hilbert, [[i] for i in range(n)], "x")) / (2 * n), abs=1e-12)
    assert traj.m_z_T[0] == pytest.approx(expect(pauli_sum(hilbert, [[i] for i in range(n)], "z")) / (2 * n), abs=1e-12)
    for r in range(n // 2 + 1):
        pairs = [[i, (i + r) % n] for i in range(n)] if r else None
        expected = expect(pauli_sum(hilbert, pairs, "z")) / (4 * n) if r else 0.25
        assert traj.czz_TR[0, r] == pytest.approx(expected, abs=1e-12)
    assert traj.half_chain_T[0] == traj.czz_TR[0, n // 2]
    assert traj.energy_T[0] == pytest.approx(expect(system.hamiltonian), abs=1e-12)


def test_neel_state_is_one_antiferromagnetic_configuration():
    ring = HeisenbergRing(8)
    psi_S = neel_vector(ring)
    assert np.count_nonzero(psi_S) == 1
    np.testing.assert_array_equal(neel_configuration(ring), [1, -1, 1, -1, 1, -1, 1, -1])
    traj = vector_trajectory(ring, psi_S[None], np.zeros(1), "test")
    np.testing.assert_allclose(traj.czz_TR[0], [0.25, -0.25, 0.25, -0.25, 0.25], atol=1e-15)
    assert traj.m_s_T[0] == pytest.approx(0.5)
    assert traj.energy_T[0] == pytest.approx(-8 / 4)


def test_complex_start_keeps_the_wavefunction():
    model = RBM(alpha=2, init_std=0.3)
    sigma_SN = np.asarray(TFIMChain(6).hilbert.all_states())
    variables = model.init(jax.random.PRNGKey(1), sigma_SN[:1])
    spec, complex_variables = complex_start(model, variables)
    complex_model = model_from_spec(spec)
    assert isinstance(complex_model, nk.models.RBM)
    assert all(jnp.iscomplexobj(x) for x in jax.tree.leaves(complex_variables))
    np.testing.assert_allclose(complex_model.apply(complex_variables, sigma_SN), model.apply(variables, sigma_SN),
                               atol=1e-12)


def test_neel_start_is_close_to_the_neel_state():
    ring = HeisenbergRing(8)
    spec, variables = neel_start(8, neel_configuration(ring), strength=2.0)
    log_psi_S = np.asarray(model_from_spec(spec).apply(variables, ring.hilbert.all_states()))
    psi_S = np.exp(log_psi_S - log_psi_S.real.max())
    assert abs(np.vdot(neel_vector(ring), psi_S)) ** 2 / np.vdot(psi_S, psi_S).real > 0.999


def product_state(n_sites, b0):
    """Complex RBM with no hidden couplings: ψ(σ) = Π_i exp(b0 σ_i), a product state."""
    return {"params": {"Dense": {"kernel": jnp.zeros((n_sites, n_sites), complex), "bias": jnp.zeros(n_sites, complex)},
                       "visible_bias": jnp.full(n_sites, b0 + 0j)}}


def test_tdvp_of_a_product_state_in_a_field_follows_the_closed_form(tmp_path):
    """H = −h Σ σˣ (J = 0): d⟨σᶻ⟩/dt = −2h⟨σʸ⟩, d⟨σʸ⟩/dt = 2h⟨σᶻ⟩, so from ⟨σʸ⟩ = 0 each spin precesses about x:
    ⟨σᶻ(t)⟩ = ⟨σᶻ(0)⟩ cos(2ht), ⟨σˣ⟩ constant. For ψ ∝ exp(b σ): ⟨σᶻ⟩ = tanh 2b, ⟨σˣ⟩ = 1/cosh 2b; m = ⟨σ⟩/2 in ħ.
    The start's fidelity to the field's ground state (all spins along +x) is (cosh² b / cosh 2b)^N, kept by the
    unitary evolution of both."""
    n, h, b0 = 4, 0.7, 0.3
    quench = Quench(TFIMChain(n, h=h, J=0.0), TFIMChain(n, h=0.4, J=0.0))
    config = EvolveConfig(quench=quench.params(), model="netket.RBM:alpha=1.0,param_dtype=complex", t_end=1.0,
                          save_dt=0.25, dt=0.025)
    result = evolve(config, tmp_path / "field", product_state(n, b0))
    t_K = result.nqs.times_T
    np.testing.assert_allclose(t_K, [0, 0.25, 0.5, 0.75, 1.0], atol=1e-15)
    np.testing.assert_allclose(result.nqs.m_z_T, 0.5 * np.tanh(2 * b0) * np.cos(2 * h * t_K), rtol=0, atol=1e-7)
    np.testing.assert_allclose(result.nqs.m_x_T, 0.5 / np.cosh(2 * b0), rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.fidelity_T, (np.cosh(b0) ** 2 / np.cosh(2 * b0)) ** n, rtol=1e-8)
    assert result.status["state"] == "finished"
    assert result.exact.energy_T == pytest.approx(-h * n, abs=1e-12)


@pytest.mark.parametrize("mode", ["exact", "sampled"])
def test_resumed_evolution_gives_the_same_trajectory(tmp_path, mode):
    """Full sums, and Monte Carlo with the sampler's state restored from the checkpoint."""
    quench = Quench.tfim(4, h_before=0.5, h_after=1.0, pbc=False)
    _, variables = neel_start(4, np.ones(4), strength=0.5, seed=2)
    config = EvolveConfig(quench=quench.params(), model="netket.RBM:alpha=1.0,param_dtype=complex", t_end=0.4,
                          save_dt=0.1, dt=0.05, mode=mode, samples=256, chains=16)
    whole = evolve(config, tmp_path / "whole", variables)
    part = evolve(config, tmp_path / "part", variables, max_saves=2)
    assert part.status["state"] == "interrupted" and len(part.fidelity_T) == 3
    resumed = resume(tmp_path / "part")
    assert resumed.status["state"] == "finished"
    for k in range(5):
        jax.tree.map(np.testing.assert_array_equal, resumed.parameters(k), whole.parameters(k))
    np.testing.assert_array_equal(resumed.frame().to_numpy(float), whole.frame().to_numpy(float))
    first, last = whole.parameters(0)["params"], whole.parameters(4)["params"]
    assert not np.array_equal(first["visible_bias"], last["visible_bias"])
    assert load(tmp_path / "whole").frame().shape[0] == 5


def test_bad_times_are_refused():
    quench = Quench.tfim(4, h_before=0.5, h_after=1.0)
    with pytest.raises(PhyslensError, match="whole number"):
        EvolveConfig(quench=quench.params(), t_end=1.0, save_dt=0.1, dt=0.03)
    with pytest.raises(PhyslensError, match="whole number"):
        time_grid(1.0, 0.3)
    with pytest.raises(PhyslensError, match="same Hilbert space|share one Hilbert space"):
        Quench(TFIMChain(4), TFIMChain(6))
