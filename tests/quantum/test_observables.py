"""Observables against a dense NumPy diagonalisation, closed formulas and NumPy reference loops."""

import jax
import netket as nk
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.quantum.models import RBM
from physlens.quantum.observables import (Configurations, staggered_amplitude, allowed_momenta, bond_energies, bond_energies_per_config,
                                          czz, czz_per_config, energy, expectation, local_energy_per_config,
                                          magnetisation, magnetisation_per_config, staggered_magnetisation,
                                          staggered_magnetisation_per_config, staggered_magnetisation_squared,
                                          structure_factor, structure_factor_per_config, sublattice_sign)
from physlens.quantum.systems import HeisenbergRing, HeisenbergSquare, TFIMChain, TFIMSquare, ToricCode

SPIN_HALF = {"x": np.array([[0, 1], [1, 0]]) / 2, "y": np.array([[0, -1j], [1j, 0]]) / 2,
             "z": np.array([[1, 0], [0, -1]]) / 2}


def site_operator(op: np.ndarray, i: int, n: int) -> np.ndarray:
    """op on site i of n spins (site 0 is the leftmost Kronecker factor)."""
    out = np.eye(1)
    for k in range(n):
        out = np.kron(out, op if k == i else np.eye(2))
    return out


@pytest.fixture(scope="module")
def dense_ring8():
    """Ground state of H = Σ_i S_i·S_{i+1} on the periodic 8-ring from a dense 256×256 matrix (no NetKet)."""
    n = 8
    ham = sum(site_operator(SPIN_HALF[a], i, n) @ site_operator(SPIN_HALF[a], (i + 1) % n, n)
              for i in range(n) for a in "xyz")
    vals, vecs = np.linalg.eigh(ham.real)
    p = np.abs(vecs[:, 0]) ** 2
    sz_NX = np.array([np.diag(site_operator(SPIN_HALF["z"], i, n)).real for i in range(n)])
    corr_NN = np.einsum("x,ix,jx->ij", p, sz_NX, sz_NX)
    return {"energy": vals[0], "gap": vals[1] - vals[0], "corr_NN": corr_NN}


def amplitude_lookup(hilbert, state_S: np.ndarray):
    """log ψ(σ) of a positive state vector by binary encoding (NumPy searchsorted, no NetKet)."""
    n = hilbert.size
    codes_S = (np.asarray(hilbert.all_states()) > 0) @ (2 ** np.arange(n))
    order_S = np.argsort(codes_S)

    def log_psi(sigma_BN):
        codes_B = (np.asarray(sigma_BN) > 0) @ (2 ** np.arange(n))
        return np.log(state_S[order_S[np.searchsorted(codes_S, codes_B, sorter=order_S)]])

    return log_psi


@pytest.fixture(scope="module")
def ring8():
    system = HeisenbergRing(8)
    ref = system.exact()
    assert np.all(ref.state > 0), "the Marshall sign rule makes the ring's ground state positive"
    return system, ref, Configurations.from_state_vector(system.hilbert, ref.state), amplitude_lookup(system.hilbert, ref.state)


@pytest.fixture(scope="module")
def tfim8():
    system = TFIMChain(8)
    ref = system.exact()
    assert np.all(ref.state > 0), "the TFIM ground state is positive (stoquastic H)"
    return system, ref, Configurations.from_state_vector(system.hilbert, ref.state), amplitude_lookup(system.hilbert, ref.state)


def random_sigma(rng, s: int, n: int) -> np.ndarray:
    return rng.choice([-1.0, 1.0], size=(s, n))


def test_czz_ring_matches_dense_diagonalisation(ring8, dense_ring8):
    system, ref, configs, _ = ring8
    assert dense_ring8["gap"] > 0.1 and ref.energy == pytest.approx(dense_ring8["energy"], abs=1e-10)
    est = czz(system, configs)
    expected_R = dense_ring8["corr_NN"][0, :5]
    assert est.exact and est.unit == "ħ²" and est.value.shape == (5,)
    np.testing.assert_allclose(est.value, expected_R, atol=1e-10)
    np.testing.assert_array_equal(est.error, np.zeros(5))
    assert est.value[0] == pytest.approx(0.25, abs=1e-12)
    np.testing.assert_array_equal(np.sign(est.value), (-1.0) ** np.arange(5))


def test_structure_factor_ring_matches_dense_fourier_sum(ring8, dense_ring8):
    system, _, configs, _ = ring8
    est = structure_factor(system, configs)
    q_Q = allowed_momenta(system)[:, 0]
    r_N = np.arange(8)
    phase_QN = np.exp(1j * q_Q[:, None] * r_N[None, :])
    expected_Q = np.einsum("qi,ij,qj->q", phase_QN, dense_ring8["corr_NN"], phase_QN.conj()).real / 8
    np.testing.assert_allclose(est.value, expected_Q, atol=1e-10)
    assert est.value[0] == pytest.approx(0.0, abs=1e-12)  # q = 0 is N m², zero in the S^z = 0 sector


def test_structure_factor_at_pi_is_n_times_staggered_magnetisation_squared(ring8):
    # Σ_j e^{iπ j} S^z_j = Σ_j ε_j S^z_j = N m_s, so S(π) = (1/N)(N m_s)² = N m_s² configuration by configuration.
    system, _, configs, _ = ring8
    s_pi_S, q_QD = structure_factor_per_config(system, configs.sigma_SN, np.array([[np.pi]]))
    ms_S = staggered_magnetisation_per_config(system, configs.sigma_SN)
    np.testing.assert_allclose(s_pi_S[:, 0], 8 * ms_S**2, atol=1e-12)
    assert q_QD.shape == (1, 1)
    msq = staggered_magnetisation_squared(system, configs)
    assert structure_factor(system, configs, np.array([[np.pi]])).value[0] == pytest.approx(8 * msq.value, abs=1e-12)
    assert staggered_magnetisation(system, configs).value == pytest.approx(0.0, abs=1e-12)


def test_structure_factor_identity_on_square_lattice():
    system = HeisenbergSquare(4)
    sigma_SN = random_sigma(np.random.default_rng(1), 50, 16)
    s_SQ, q_QD = structure_factor_per_config(system, sigma_SN)
    assert q_QD.shape == (16, 2)
    at_pi = np.flatnonzero(np.all(np.isclose(q_QD, np.pi), axis=1))
    np.testing.assert_allclose(s_SQ[:, at_pi[0]], 16 * staggered_magnetisation_per_config(system, sigma_SN) ** 2, atol=1e-12)
    np.testing.assert_allclose(s_SQ[:, 0], 16 * magnetisation_per_config(sigma_SN) ** 2, atol=1e-12)


def test_energy_from_local_energies_equals_exact(ring8):
    system, ref, configs, log_psi = ring8
    local_S = local_energy_per_config(system, log_psi, configs.sigma_SN)
    np.testing.assert_allclose(local_S, ref.energy, atol=1e-10)  # an eigenstate has a constant local energy
    est = energy(system, log_psi, configs)
    assert est.exact and est.unit == "J" and est.error == 0
    assert est.value == pytest.approx(ref.energy, abs=1e-10)
    assert est.value == pytest.approx(-3.6510934089, abs=1e-9)


def test_heisenberg_bond_energies(ring8):
    system, ref, configs, log_psi = ring8
    bonds_SB = bond_energies_per_config(system, log_psi, configs.sigma_SN)
    assert bonds_SB.shape == (70, 8)
    np.testing.assert_allclose(bonds_SB.sum(axis=1), local_energy_per_config(system, log_psi, configs.sigma_SN), atol=1e-12)
    est = bond_energies(system, log_psi, configs)
    np.testing.assert_allclose(est.value, ref.energy / 8, atol=1e-10)  # translation invariance
    assert est.unit == "J" and est.exact


@pytest.mark.parametrize("system", [HeisenbergRing(6, J=0.7), HeisenbergRing(6, sign_rule=False), TFIMChain(5, h=0.4),
                                    TFIMSquare(2, h=0.8), HeisenbergSquare(2, pbc=False)],
                         ids=lambda s: s.kind)
def test_bond_energies_sum_to_local_energy_for_a_model(system):
    n = system.n_sites
    model = RBM(alpha=1, init_std=0.4)
    params = model.init(jax.random.key(2), np.ones((1, n)))

    def log_psi(sigma_BN):
        return np.asarray(model.apply(params, sigma_BN))

    sigma_SN = np.asarray(system.hilbert.all_states())
    local_S = local_energy_per_config(system, log_psi, sigma_SN)
    bonds_SB = bond_energies_per_config(system, log_psi, sigma_SN)
    field_S = np.zeros(len(sigma_SN))
    if isinstance(system, (TFIMChain, TFIMSquare)):
        np.testing.assert_allclose(bonds_SB, -system.J * sigma_SN[:, system.bonds[:, 0]] * sigma_SN[:, system.bonds[:, 1]])
        flipped_SNN = sigma_SN[:, None, :] * (1 - 2 * np.eye(n))[None]
        ratios_SN = np.exp(log_psi(flipped_SNN.reshape(-1, n)).reshape(-1, n) - log_psi(sigma_SN)[:, None])
        field_S = -system.h * ratios_SN.sum(axis=1)
    np.testing.assert_allclose(bonds_SB.sum(axis=1) + field_S, local_S, atol=1e-12)


def test_tfim_local_energy_equals_exact(tfim8):
    system, ref, configs, log_psi = tfim8
    est = energy(system, log_psi, configs)
    assert est.value == pytest.approx(ref.energy, abs=1e-10)
    assert est.value == pytest.approx(-10.2516617910, abs=1e-9)
    assert magnetisation(configs).value == pytest.approx(0.0, abs=1e-12)  # Z2 symmetry of the ground state


def test_sampled_estimates_agree_with_exact(ring8, tfim8):
    rng = np.random.default_rng(7)
    for system, _, exact_configs, log_psi in (ring8, tfim8):
        draws = rng.choice(len(exact_configs.weights_S), size=4000, p=exact_configs.weights_S)
        sampled = Configurations.from_samples(exact_configs.sigma_SN[draws])
        assert not sampled.exact
        pairs = [(czz(system, sampled), czz(system, exact_configs)),
                 (staggered_magnetisation_squared(system, sampled), staggered_magnetisation_squared(system, exact_configs)),
                 (structure_factor(system, sampled), structure_factor(system, exact_configs)),
                 (magnetisation(sampled), magnetisation(exact_configs)),
                 (energy(system, log_psi, sampled), energy(system, log_psi, exact_configs))]
        for est, exact in pairs:
            assert not est.exact and exact.exact and est.unit == exact.unit
            assert np.all(np.abs(est.value - exact.value) <= 4 * est.error + 1e-9)
        assert np.any(pairs[0][0].error > 0)


def test_expectation_standard_error_matches_numpy():
    rng = np.random.default_rng(3)
    values_S2 = rng.normal(size=(500, 2))
    configs = Configurations.from_samples(random_sigma(rng, 500, 4))
    est = expectation(values_S2, configs, unit="x")
    np.testing.assert_allclose(est.value, values_S2.mean(axis=0))
    np.testing.assert_allclose(est.error, values_S2.std(axis=0, ddof=1) / np.sqrt(500))
    est_eff = expectation(values_S2, configs, n_eff=51)
    np.testing.assert_allclose(est_eff.error, values_S2.std(axis=0) / np.sqrt(50))
    with pytest.raises(PhyslensError):
        expectation(values_S2[:10], configs)
    with pytest.raises(PhyslensError):
        expectation(values_S2, configs, n_eff=1)


def test_zero_weight_configurations_do_not_contribute():
    configs = Configurations(np.array([[1, -1], [-1, 1]]), np.array([1.0, 0.0]), exact=True)
    assert expectation(np.array([2.0, np.nan]), configs).value == 2.0


def test_czz_reference_loops_open_and_2d():
    rng = np.random.default_rng(5)
    for system in (TFIMChain(7, pbc=False), TFIMChain(6), TFIMSquare(3), HeisenbergSquare(4)):
        sigma_SN = random_sigma(rng, 20, system.n_sites)
        sites = {tuple(np.rint(c).astype(int)): i for i, c in enumerate(system.coords)}
        size = max(x for x, *_ in sites) + 1
        periodic = getattr(system, "pbc", True)
        expected_SR = np.zeros((20, size // 2 + 1))
        for r in range(size // 2 + 1):
            pairs = [(i, sites[((x + r) % size, *rest)]) for (x, *rest), i in sites.items() if periodic or x + r < size]
            expected_SR[:, r] = np.mean([sigma_SN[:, i] * sigma_SN[:, j] / 4 for i, j in pairs], axis=0)
        np.testing.assert_allclose(czz_per_config(system, sigma_SN), expected_SR, atol=1e-14)


def test_sublattice_signs():
    np.testing.assert_array_equal(sublattice_sign(HeisenbergRing(6)), (-1.0) ** np.arange(6))
    square = HeisenbergSquare(4)
    np.testing.assert_array_equal(sublattice_sign(square), (-1.0) ** square.coords.sum(axis=1))
    assert np.all(sublattice_sign(square)[square.bonds[:, 0]] == -sublattice_sign(square)[square.bonds[:, 1]])


def test_configurations_from_log_psi_is_stable():
    sigma_SN = np.array([[1, -1], [-1, 1], [1, 1]])
    configs = Configurations.from_log_psi(sigma_SN, np.array([1000.0, 1000.0 + 0.5 * np.log(3), -np.inf]))
    np.testing.assert_allclose(configs.weights_S, [0.25, 0.75, 0.0])
    assert configs.exact


def test_configurations_from_vstates():
    system = TFIMChain(4)
    model = RBM(alpha=1, init_std=0.3)
    full = nk.vqs.FullSumState(system.hilbert, model, seed=1)
    configs = Configurations.from_vstate(full)
    sigma_SN = np.asarray(system.hilbert.all_states())
    expected = Configurations.from_log_psi(sigma_SN, np.asarray(model.apply(full.variables, sigma_SN)))
    assert configs.exact
    np.testing.assert_allclose(configs.weights_S, expected.weights_S, atol=1e-12)
    sampler = nk.sampler.MetropolisLocal(system.hilbert, n_chains=16)
    mc = nk.vqs.MCState(sampler, model, n_samples=64, seed=1, sampler_seed=2)
    sampled = Configurations.from_vstate(mc)
    assert not sampled.exact and sampled.sigma_SN.shape == (64, 4)
    np.testing.assert_allclose(sampled.weights_S, 1 / 64)
    with pytest.raises(PhyslensError):
        Configurations.from_vstate(object())


def test_bad_input_raises():
    with pytest.raises(PhyslensError):
        Configurations(np.array([[1, 0]]), np.array([1.0]), exact=True)
    with pytest.raises(PhyslensError):
        Configurations(np.array([[1, -1]]), np.array([0.5]), exact=True)
    with pytest.raises(PhyslensError):
        Configurations.from_state_vector(HeisenbergRing(4).hilbert, np.ones(5))
    toric = ToricCode(2)
    sigma_SN = np.ones((3, toric.n_sites))
    with pytest.raises(PhyslensError):
        czz_per_config(toric, sigma_SN)
    with pytest.raises(PhyslensError):
        bond_energies_per_config(toric, lambda s: np.zeros(len(s)), sigma_SN)
    with pytest.raises(PhyslensError):
        structure_factor_per_config(HeisenbergRing(4), np.ones((1, 4)), np.zeros((2, 2)))
    assert structure_factor_per_config(toric, sigma_SN)[0].shape == (3, 4)


def test_staggered_amplitude_closed_forms():
    czz_KR = np.array([[0.25, -0.1, 0.05], [0.25, 0.1, -0.05], [0.25, -0.1, -0.05], [0.25, 0.0, 0.0]])
    np.testing.assert_allclose(staggered_amplitude(czz_KR)[:3], [1.0, -1.0, (0.1 - 0.05) / 0.15], rtol=1e-15)
    assert np.isnan(staggered_amplitude(czz_KR)[3])


def test_exact_ground_state_of_the_ring_is_fully_staggered(dense_ring8):
    corr_NN = dense_ring8["corr_NN"]
    czz_R = np.array([np.mean([corr_NN[i, (i + r) % 8] for i in range(8)]) for r in range(5)])
    assert float(staggered_amplitude(czz_R)) == pytest.approx(1.0, abs=1e-12)


def test_diagonal_bond_terms_evaluate_the_network_only_on_the_configurations():
    system = TFIMChain(6, h=0.7)
    model = RBM(alpha=1, init_std=0.4)
    params = model.init(jax.random.key(3), np.ones((1, 6)))
    rows = []

    def log_psi(sigma_BN):
        rows.append(len(sigma_BN))
        return np.asarray(model.apply(params, sigma_BN))

    sigma_SN = np.asarray(system.hilbert.all_states())
    bond_energies_per_config(system, log_psi, sigma_SN)
    assert rows == [len(sigma_SN)]
    rows.clear()
    local_energy_per_config(system, log_psi, sigma_SN)
    assert rows == [len(sigma_SN), 6 * len(sigma_SN)]  # σ itself, then its six single flips (the diagonal is free)
