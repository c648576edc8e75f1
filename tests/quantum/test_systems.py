"""Exact references of the spin systems against the published table and closed formulas."""

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.quantum.systems import (HeisenbergRing, HeisenbergSquare, TFIMChain, TFIMSquare, ToricCode,
                                      make_system, system_from_params)

# DESIGN.md reference table: H = J Σ S_i·S_{i+1}, spin-1/2, J = 1, periodic.
RING_E0 = {4: -2.0000000000, 6: -2.8027756377, 8: -3.6510934089, 10: -4.5154463545,
           12: -5.3873909174, 16: -7.1422963606}


@pytest.mark.parametrize("n", sorted(RING_E0))
def test_heisenberg_ring_matches_table(n):
    ref = HeisenbergRing(n).exact()
    assert ref.energy == pytest.approx(RING_E0[n], abs=1e-8)
    assert ref.unit == "J"


def tfim_chain_e0(n: int, h: float, J: float) -> float:
    """Free-fermion ground energy of the periodic TFIM chain (even-parity, antiperiodic momenta)."""
    k = np.pi * (2 * np.arange(n) + 1) / n
    return -np.sum(np.sqrt(J**2 + h**2 - 2 * J * h * np.cos(k)))


@pytest.mark.parametrize("n", [4, 6, 8, 10, 12, 14, 16])
def test_tfim_chain_closed_formula(n):
    assert TFIMChain(n).exact().energy == pytest.approx(-2 / np.sin(np.pi / (2 * n)), abs=1e-8)


@pytest.mark.parametrize("h", [0.3, 2.0])
def test_tfim_chain_free_fermions_off_critical(h):
    assert TFIMChain(10, h=h).exact().energy == pytest.approx(tfim_chain_e0(10, h, 1.0), abs=1e-8)


def test_tfim_n8_reference_number():
    assert TFIMChain(8).exact().energy == pytest.approx(-10.2516617910, abs=1e-9)


@pytest.mark.parametrize("L", [2, 3])
def test_toric_code_ground_energy(L):
    ref = ToricCode(L).exact()
    assert ref.energy == pytest.approx(-2 * L**2, abs=1e-8)
    assert ref.n_states == 2 ** (2 * L**2)


def test_toric_code_stabilisers_commute_and_cover_each_edge_twice():
    tc = ToricCode(3)
    stars, plaquettes = tc.stars, tc.plaquettes
    assert np.all(np.bincount(stars.ravel(), minlength=18) == 2)
    assert np.all(np.bincount(plaquettes.ravel(), minlength=18) == 2)
    overlaps = [len(set(s) & set(p)) for s in stars for p in plaquettes]
    assert set(overlaps) <= {0, 2}


def test_exact_state_is_eigenvector_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("PHYSLENS_CACHE", str(tmp_path))
    ring = HeisenbergRing(10)
    ref = ring.exact()
    h = ring.hamiltonian.to_sparse()
    assert np.linalg.norm(h @ ref.state - ref.energy * ref.state) < 1e-9
    assert np.all(ref.state > 0), "the Marshall sign rule makes the ground state positive"
    assert len(list((tmp_path / "exact").glob("*.npz"))) == 1
    again = ring.exact()
    assert again.energy == ref.energy and np.array_equal(again.state, ref.state)


def test_marshall_sign_rule_leaves_spectrum_unchanged():
    assert HeisenbergRing(8, sign_rule=False).exact().energy == pytest.approx(RING_E0[8], abs=1e-10)


def test_square_lattices_have_geometry():
    sq = HeisenbergSquare(4)
    assert sq.coords.shape == (16, 2) and sq.bonds.shape == (32, 2)
    open_tfim = TFIMSquare(4)
    assert open_tfim.bonds.shape == (24, 2)
    assert open_tfim.hilbert.n_states == 2**16


def test_heisenberg_square_4x4_energy():
    # Literature value for the 4x4 periodic Heisenberg model: E0 = −11.228483 J (E0/N = −0.7017802 J).
    assert HeisenbergSquare(4).exact().energy == pytest.approx(-11.228483, abs=1e-6)


@pytest.mark.parametrize("kind,size,params,match", [
    ("heisenberg-ring", 7, {}, "even number of sites"),
    ("heisenberg-ring", 2, {}, "N >= 4"),
    ("kagome", 8, {}, "unknown system"),
    ("tfim-chain", 8, {"g": 1.0}, "unknown parameter"),
    ("toric-code", 1, {}, "L >= 2"),
    ("heisenberg-square", 3, {"pbc": False, "sign_rule": False}, "even L"),
    ("heisenberg-square", 2, {}, "periodic boundaries needs size >= 3"),
    ("tfim-chain", 2, {}, "periodic boundaries needs size >= 3"),
])
def test_bad_systems_are_one_line_errors(kind, size, params, match):
    with pytest.raises(PhyslensError, match=match) as err:
        make_system(kind, size, **params)
    assert "\n" not in str(err.value)


def test_params_round_trip():
    tfim = TFIMChain(12, h=0.7, pbc=False)
    assert system_from_params(tfim.params()) == tfim


def test_metropolis_sampler_keeps_conserving_systems_in_their_sector():
    import netket as nk

    for system, rule in ((HeisenbergRing(8), nk.sampler.rules.ExchangeRule), (TFIMChain(6), nk.sampler.rules.LocalRule)):
        sampler = system.metropolis_sampler(4)
        assert isinstance(sampler.rule, rule) and sampler.n_chains == 4
    state = nk.vqs.MCState(HeisenbergRing(8).metropolis_sampler(4), apply_fun=lambda _, x: 0.0 * x.sum(-1),
                           variables={"params": {}}, n_samples=64, seed=0, sampler_seed=0)
    assert np.all(np.asarray(state.sample()).sum(-1) == 0)
