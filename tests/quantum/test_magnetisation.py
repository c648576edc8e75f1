"""Exact magnetisations against a product state computed by hand and a direct sparse-operator sum."""

import itertools

import netket as nk
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.quantum.magnetisation import flip_index, magnetisations

N = 4


def product_state(theta: float):
    """⊗_i (cos θ |↑⟩ + sin θ |↓⟩) on the NetKet basis of N spins."""
    hilbert = nk.hilbert.Spin(0.5, N)
    basis = np.asarray(hilbert.all_states())
    amplitude = np.prod(np.where(basis > 0, np.cos(theta), np.sin(theta)), axis=1)
    return hilbert, basis, np.log(amplitude)


def test_product_state_by_hand():
    theta = 0.3
    _, basis, log_psi = product_state(theta)
    values = magnetisations(basis, log_psi)
    mz, mx = np.cos(2 * theta), np.sin(2 * theta)
    assert values["m_z"] == pytest.approx(mz, abs=1e-13)
    assert values["m_x"] == pytest.approx(mx, abs=1e-13)
    assert values["m_z_sq"] == pytest.approx((N + N * (N - 1) * mz**2) / N**2, abs=1e-13)
    p_up = np.cos(theta) ** 2
    by_hand = sum(np.prod([p_up if s else 1 - p_up for s in spins]) * abs(2 * sum(spins) - N) / N
                  for spins in itertools.product((1, 0), repeat=N))
    assert values["abs_m_z"] == pytest.approx(by_hand, abs=1e-13)


def test_transverse_magnetisation_matches_the_sparse_operator():
    hilbert, basis, _ = product_state(0.2)
    rng = np.random.default_rng(1)
    log_psi = rng.normal(size=len(basis))
    psi = np.exp(log_psi)
    mx = sum(nk.operator.spin.sigmax(hilbert, i) for i in range(N)).to_sparse() / N
    assert magnetisations(basis, log_psi)["m_x"] == pytest.approx(psi @ (mx @ psi) / (psi @ psi), abs=1e-13)


def test_flip_index_flips_one_spin():
    _, basis, _ = product_state(0.2)
    flips = flip_index(basis)
    for i in range(N):
        changed = basis[flips[:, i]] != basis
        assert np.all(changed[:, i]) and changed.sum() == len(basis)


def test_a_partial_basis_is_refused():
    _, basis, _ = product_state(0.2)
    with pytest.raises(PhyslensError, match="all 2\\^N"):
        flip_index(basis[:-1])
