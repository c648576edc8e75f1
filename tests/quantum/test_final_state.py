"""The final-state summary of a training run: ε, the collapse test, and how basis sizes are written."""


import jax
import netket as nk
import pytest

from physlens.quantum.final_state import COLLAPSE_EPS, FullSumEnergy, collapse_reason, count_words, relative_error
from physlens.quantum.systems import HeisenbergRing


def uniform_rbm_energy(n: int, sign_rule: bool) -> float:
    """⟨H⟩ (J) by ``FullSumEnergy`` of NetKet's RBM with every parameter 0 on the n-site ring's 2^n states."""
    system = HeisenbergRing(n, sign_rule=sign_rule, fixed_sz=False)
    model = nk.models.RBM(alpha=1)
    fullsum = FullSumEnergy(system, model, max_states=2**n)
    zero = jax.tree_util.tree_map(lambda a: 0 * a, model.init(jax.random.PRNGKey(0), fullsum.basis[:1]))
    return fullsum(zero)


def test_count_words_for_huge_bases():
    assert count_words(70) == "70"
    assert count_words(2**10000) == "about 10^3010"


def test_relative_error():
    assert relative_error(-3.0, -4.0) == pytest.approx(0.25)
    assert relative_error(-3.0, None) is None


def test_collapse_needs_a_large_error_and_a_concentrated_state():
    assert collapse_reason(0.46, -1.5, 1.5, 1.14).startswith("collapsed: ε = 0.46, the state sits on 1.14 configuration(s)")
    assert collapse_reason(0.46, -1.5, 0.0, None).startswith("collapsed:")
    assert collapse_reason(1e-5, -2.8, 0.0, 1.0) == "", "a converged state on few configurations is not a collapse"
    assert collapse_reason(0.5, -1.5, 2.0, 40.0) == "", "a poor but spread-out state is not a collapse"
    assert collapse_reason(2 * COLLAPSE_EPS, -1.5, 1.0, 2.0) != ""
    assert collapse_reason(None, -1.5, 0.0, 1.0) != "" and collapse_reason(None, -1.5, 0.0, 30.0) == ""


def test_full_sum_energy_of_the_uniform_state_is_the_closed_form():
    """Zero parameters: ψ(σ) = 1 on all 2^N states, the product of |+x⟩. Under the Marshall sign rule the ring's
    H = J Σ (SᶻSᶻ − SˣSˣ − SʸSʸ), so ⟨H⟩ = −J N/4; without it +J N/4."""
    assert uniform_rbm_energy(10, sign_rule=True) == pytest.approx(-10 / 4, abs=1e-12)
    assert uniform_rbm_energy(10, sign_rule=False) == pytest.approx(10 / 4, abs=1e-12)


def test_full_sum_energy_is_available_up_to_its_limit_only():
    model = nk.models.RBM(alpha=1)
    ring = HeisenbergRing(12, fixed_sz=False)
    assert FullSumEnergy(ring, model).available and FullSumEnergy(ring, model, max_states=2**12).available
    assert not FullSumEnergy(ring, model, max_states=2**12 - 1).available
    assert FullSumEnergy(ring, model, max_states=2**11)(None) is None


@pytest.mark.slow
def test_full_sum_energy_of_the_uniform_state_on_the_20_site_ring():
    assert uniform_rbm_energy(20, sign_rule=True) == pytest.approx(-5.0, abs=1e-10)
