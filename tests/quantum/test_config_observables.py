"""Per-configuration observables: Born averages over the exact ground state equal ED expectation values."""

import netket as nk
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.quantum.config_observables import connected_halves, observable_table
from physlens.quantum.systems import HeisenbergSquare, TFIMChain, ToricCode


def ground_state(system):
    """Basis, Born weights and a log ψ lookup of the (positive) exact ground state."""
    ref = system.exact()
    sigma_SN = np.asarray(system.hilbert.all_states())
    psi_S = ref.state
    assert psi_S.min() > -1e-12

    def log_psi(sigma_BN):
        return np.log(np.abs(psi_S[system.hilbert.states_to_numbers(np.asarray(sigma_BN))]))

    return ref, sigma_SN, psi_S, log_psi


def ed_expectation(system, psi_S, terms):
    """⟨ψ|Σ c·σᶻ_i σᶻ_j|ψ⟩ with NetKet operators, terms = [(coefficient, i, j)]."""
    hi = system.hilbert
    op = sum(c * nk.operator.spin.sigmaz(hi, i) @ nk.operator.spin.sigmaz(hi, j) for c, i, j in terms)
    return float(psi_S @ (op.to_sparse() @ psi_S))


@pytest.mark.parametrize("system", [TFIMChain(8, h=0.7), HeisenbergSquare(4)], ids=["tfim8", "heis4x4"])
def test_born_averages_match_exact_diagonalisation(system):
    ref, sigma_SN, psi_S, log_psi = ground_state(system)
    p_S = psi_S**2
    table = observable_table(system, sigma_SN, log_psi)
    avg = {name: p_S @ values for name, values in table.values.items()}
    n = system.n_sites
    bonds = system.bonds
    np.testing.assert_allclose(avg["e_loc"], ref.energy, rtol=1e-9)
    np.testing.assert_allclose(avg["c_nn"], ed_expectation(system, psi_S, [(0.25 / len(bonds), i, j) for i, j in bonds]),
                               atol=1e-10)
    if isinstance(system, TFIMChain):
        far = [(0.25 / n, i, (i + n // 2) % n) for i in range(n)]
        np.testing.assert_allclose(table.values["bond_energy"], -4 * system.J * table.values["c_nn"], atol=1e-14)
        sx = sum(nk.operator.spin.sigmax(system.hilbert, i) for i in range(n)).to_sparse()
        np.testing.assert_allclose(avg["e_loc"] - len(bonds) * avg["bond_energy"], -system.h * psi_S @ (sx @ psi_S),
                                   atol=1e-10)
    else:
        L = system.L
        far = [(0.25 / n, x * L + y, ((x + L // 2) % L) * L + (y + L // 2) % L) for x in range(L) for y in range(L)]
        horizontal = sum(1 for i, j in bonds if i // L == j // L)
        np.testing.assert_allclose(avg["bond_energy_y"] * horizontal + avg["bond_energy_x"] * (len(bonds) - horizontal),
                                   ref.energy, rtol=1e-9)
        np.testing.assert_allclose(avg["bond_energy_x"], avg["bond_energy_y"], rtol=1e-8)
    np.testing.assert_allclose(avg["c_far"], ed_expectation(system, psi_S, far), atol=1e-10)
    np.testing.assert_allclose(avg["m_z"], 0.0, atol=1e-10)


def test_diagonal_columns_match_a_numpy_loop():
    system = HeisenbergSquare(4)
    sigma_SN = np.asarray(system.hilbert.all_states())[::97]
    table = observable_table(system, sigma_SN)
    assert "e_loc" not in table.values
    L = 4
    for s, sigma in enumerate(sigma_SN):
        grid = sigma.reshape(L, L)
        stag = sum(grid[x, y] * (-1) ** (x + y) for x in range(L) for y in range(L)) / (2 * L * L)
        walls = sum(grid[x, y] != grid[(x + 1) % L, y] for x in range(L) for y in range(L)) + \
            sum(grid[x, y] != grid[x, (y + 1) % L] for x in range(L) for y in range(L))
        np.testing.assert_allclose(table.values["abs_m_s"][s], abs(stag), atol=1e-14)
        assert table.values["domain_walls"][s] == walls
    assert table.units["abs_m_s"] == "ħ" and table.units["c_nn"] == "ħ²"
    assert list(table.to_frame().columns) == list(table.values)


def test_toric_code_stabilisers_are_one_in_a_ground_state():
    system = ToricCode(2)
    sigma_SN = np.asarray(system.hilbert.all_states())
    closed = np.array([all(np.prod(sigma[p]) == 1 for p in system.plaquettes) for sigma in sigma_SN])
    psi_S = closed / np.sqrt(closed.sum())
    np.testing.assert_allclose(psi_S @ (system.hamiltonian.to_sparse() @ psi_S), -2 * system.L**2, atol=1e-12)

    def log_psi(sigma_BN):
        with np.errstate(divide="ignore"):
            return np.log(psi_S[system.hilbert.states_to_numbers(np.asarray(sigma_BN))])

    table = observable_table(system, sigma_SN[closed], log_psi)
    np.testing.assert_allclose(table.values["plaquettes"], 1.0)
    np.testing.assert_allclose(table.values["stars"], 1.0)
    np.testing.assert_allclose(table.values["e_loc"], -2 * system.L**2)
    assert "m_s" not in table.values


def test_rejects_configurations_of_the_wrong_shape():
    with pytest.raises(PhyslensError, match=r"shape \(S, 8\)"):
        observable_table(TFIMChain(8), np.ones((3, 6)))
    with pytest.raises(PhyslensError, match="±1"):
        observable_table(TFIMChain(8), np.zeros((3, 8)))


def test_half_chain_correlations_of_neel_and_product_states_by_hand():
    system = TFIMChain(8)
    neel = np.array([[1, -1] * 4], dtype=float)
    up = np.ones((1, 8))
    for state, c_half, halves in ((neel, 0.25, 0.0), (up, 0.25, 0.25)):
        table = observable_table(system, state)
        assert table.values["c_far"][0] == pytest.approx(c_half)        # (1/N) Σ S^z_i S^z_{i+4}, in ħ²
        assert table.values["halves"][0] == pytest.approx(halves)
        assert connected_halves(system, state) == pytest.approx(0.0)    # a product state has no connected part
    cat = np.vstack([up, -up])                                          # (|↑…↑⟩ + |↓…↓⟩)/√2
    assert connected_halves(system, cat, np.array([0.5, 0.5])) == pytest.approx(0.25)
    domain = np.array([[1] * 4 + [-1] * 4], dtype=float)
    assert observable_table(system, domain).values["halves"][0] == pytest.approx(-0.25)
