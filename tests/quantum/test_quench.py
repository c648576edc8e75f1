"""Quenches and their exact dynamics: Krylov evolution against a dense matrix exponential, observables against
NetKet's operators, the Néel start, fidelities, refusals."""

import functools
import operator

import netket as nk
import numpy as np
import pytest
import scipy.linalg

import physlens  # noqa: F401  (enables float64)
from physlens.errors import PhyslensError
from physlens.quantum.quench import (Quench, evolve_vector, exact_states, exact_trajectory, fidelity,
                                     neel_configuration, neel_vector, time_grid, vector_trajectory)
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


def test_fidelity_is_one_for_a_state_and_its_multiples_and_zero_for_orthogonal_states():
    psi_S = random_state(16, seed=1)
    np.testing.assert_allclose(fidelity(psi_S, (2 - 3j) * psi_S), [1.0], atol=1e-15)
    up_S, down_S = np.eye(16)[0], np.eye(16)[15]
    np.testing.assert_array_equal(fidelity(np.stack([up_S, up_S]), np.stack([down_S, up_S])), [0.0, 1.0])
    phi_S = random_state(16, seed=2)
    assert fidelity(psi_S, phi_S)[0] == pytest.approx(abs(np.vdot(psi_S, phi_S)) ** 2, abs=1e-15)


def test_quench_round_trips_through_its_params():
    for quench in (Quench.tfim(6, h_before=0.5, h_after=1.5, pbc=False), Quench.neel(HeisenbergRing(6))):
        again = Quench.from_params(quench.params())
        assert again.params() == quench.params()
        np.testing.assert_array_equal(again.initial_vector(), quench.initial_vector())


def test_time_grid_counts_whole_steps():
    np.testing.assert_array_equal(time_grid(0.15, 0.05), [0.0, 0.05, 0.1, 0.15])


def test_bad_quenches_and_grids_are_refused():
    with pytest.raises(PhyslensError, match="whole number"):
        time_grid(1.0, 0.3)
    with pytest.raises(PhyslensError, match="share one Hilbert space"):
        Quench(TFIMChain(4), TFIMChain(6))
    with pytest.raises(PhyslensError, match="needs the pre-quench system"):
        Quench(TFIMChain(4))
    with pytest.raises(PhyslensError, match="no pre-quench system"):
        Quench(HeisenbergRing(4), HeisenbergRing(4), "neel")
    with pytest.raises(PhyslensError, match="uniform time grid"):
        evolve_vector(TFIMChain(2, pbc=False).sparse_hamiltonian(), np.eye(4)[0], np.array([0.0, 0.1, 0.3]))
