"""Fidelity between log-amplitude vectors: identities and hand-computed values."""

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.quantum.fidelity import fidelity, sampled_fidelity


def test_a_state_with_itself_is_one_at_any_scale():
    rng = np.random.default_rng(0)
    log_psi = rng.normal(size=64) + 1j * rng.normal(size=64)
    assert fidelity(log_psi, log_psi) == pytest.approx(1.0, abs=1e-14)
    assert fidelity(log_psi, log_psi + 700.0 + 2.0j) == pytest.approx(1.0, abs=1e-14)


def test_two_orthogonal_product_states_have_zero_fidelity():
    up = np.full(4, -np.inf)
    up[0] = 0.0          # |↑↑⟩
    down = np.full(4, -np.inf)
    down[3] = 0.0        # |↓↓⟩
    assert fidelity(up, down) == 0.0


def test_hand_computed_overlap_and_broadcasting():
    a = np.log(np.array([1.0, 1.0]))            # (|0⟩ + |1⟩)/√2
    b = np.log(np.array([1.0, 0.0]) + 1e-300)   # |0⟩
    c = np.array([0.0, 1j * np.pi])             # (|0⟩ − |1⟩)/√2
    assert fidelity(a, b) == pytest.approx(0.5, abs=1e-12)
    assert fidelity(a, c) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(fidelity(np.stack([a, a]), np.stack([b, c])), [0.5, 0.0], atol=1e-12)


def test_different_bases_are_refused():
    with pytest.raises(PhyslensError, match="different bases"):
        fidelity(np.zeros(4), np.zeros(8))


def test_sampled_fidelity_agrees_with_the_full_sum():
    rng = np.random.default_rng(1)
    log_a = rng.normal(scale=0.5, size=32) + 1j * rng.normal(scale=0.3, size=32)
    log_b = log_a + rng.normal(scale=0.4, size=32)
    p_a, p_b = (np.abs(np.exp(x)) ** 2 for x in (log_a, log_b))
    on_a = rng.choice(32, size=200_000, p=p_a / p_a.sum())     # exact draws from |ψ_a|² and |ψ_b|²
    on_b = rng.choice(32, size=200_000, p=p_b / p_b.sum())
    estimate = sampled_fidelity(log_a[on_a], log_b[on_a], log_a[on_b], log_b[on_b])
    exact = float(fidelity(log_a, log_b))
    assert 0.5 < exact < 0.95
    assert estimate == pytest.approx(exact, abs=5e-3)
    assert sampled_fidelity(log_a[on_a], log_a[on_a] + 3.0, log_a[on_b], log_a[on_b] + 3.0) == pytest.approx(1.0, abs=1e-12)
