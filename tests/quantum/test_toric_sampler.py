"""The toric-code sampler: star flips keep every plaquette, and the chains sample |ψ|² exactly enough."""

import jax
import netket as nk
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.quantum.models import FFNN
from physlens.quantum.plaquette_network import plaquette_network
from physlens.quantum.systems import TFIMChain, ToricCode
from physlens.quantum.toric_sampler import StarFlipRule, toric_code_sampler


def test_a_star_flip_changes_four_spins_and_no_plaquette():
    system = ToricCode(3)
    rule = StarFlipRule(system.stars)
    sigma = jax.random.choice(jax.random.PRNGKey(0), np.array([-1.0, 1.0]), (64, 18))
    proposed, correction = rule.transition(None, None, None, None, jax.random.PRNGKey(1), sigma)
    assert correction is None
    changed = np.asarray(proposed != sigma)
    assert np.all(changed.sum(axis=1) == 4)
    assert all(any(set(np.flatnonzero(row)) == set(star) for star in system.stars) for row in changed)
    plaquettes = system.plaquettes
    np.testing.assert_array_equal(np.prod(np.asarray(proposed)[:, plaquettes], axis=-1),
                                  np.prod(np.asarray(sigma)[:, plaquettes], axis=-1))


def test_chains_sample_the_exact_distribution():
    system = ToricCode(2)
    model = FFNN(widths=(4,), activation="relu", use_bias=False, kernel_std=0.8)
    variables = model.init(jax.random.PRNGKey(3), np.ones((1, 8)))
    state = nk.vqs.MCState(toric_code_sampler(system, 16), model, variables=variables, n_samples=40_000,
                           n_discard_per_chain=200, seed=0, sampler_seed=1)
    basis = np.asarray(system.hilbert.all_states())
    log_psi = np.asarray(model.apply(variables, basis))
    exact = np.exp(2 * (log_psi - log_psi.max()))
    exact /= exact.sum()
    samples = np.asarray(state.samples).reshape(-1, 8)
    counts = np.bincount(system.hilbert.states_to_numbers(samples), minlength=len(basis)) / len(samples)
    assert 0.5 * np.abs(counts - exact).sum() < 0.03


def test_stays_flux_free_on_the_plaquette_state():
    system = ToricCode(3)
    model, params = plaquette_network(system, 2.0)
    state = nk.vqs.MCState(toric_code_sampler(system), model, variables={"params": params}, n_samples=1024,
                           n_discard_per_chain=100, seed=0, sampler_seed=1)
    samples = np.asarray(state.samples).reshape(-1, 18)
    assert np.all(np.prod(samples[:, system.plaquettes], axis=-1) == 1)
    assert len(np.unique(samples, axis=0)) > 100
    assert state.expect(system.hamiltonian).mean.real == pytest.approx(-18.0, abs=1e-9)


def test_other_systems_are_refused():
    with pytest.raises(PhyslensError, match="toric code"):
        toric_code_sampler(TFIMChain(6))
