"""The one seam between physics and lens: exact and sampled evaluators of a spin system agree."""

import math

import jax
import numpy as np
import pytest

from physlens.lens.evaluate import ExactEvaluator
from physlens.lens.interventions import Ablate, Identity
from physlens.lens.sampled import SampledEvaluator
from physlens.quantum import evaluators
from physlens.quantum.models import RBM
from physlens.quantum.systems import HeisenbergRing, TFIMChain, make_system


def rbm(system, seed=0, std=0.3):
    model = RBM(alpha=1)
    variables = model.init(jax.random.PRNGKey(seed), np.ones((1, system.n_sites)))
    return model, jax.tree.map(lambda x: std * np.sign(x) + x, variables)


@pytest.mark.parametrize("kind,size,expected", [("heisenberg-ring", 8, 70), ("heisenberg-ring", 40, math.comb(40, 20)),
                                                ("tfim-chain", 12, 2**12), ("toric-code", 2, 2**8)])
def test_basis_size_matches_netket_and_closed_forms(kind, size, expected):
    system = make_system(kind, size)
    assert evaluators.basis_size(system) == expected
    if expected <= 2**20:
        assert evaluators.basis_size(system) == system.hilbert.n_states


def test_evaluator_is_exact_where_the_basis_fits_and_sampled_when_asked():
    ring = HeisenbergRing(8)
    model, variables = rbm(ring)
    assert evaluators.fits_exactly(ring) and evaluators.basis_size(ring) == 70
    assert isinstance(evaluators.evaluator(ring, model, variables), ExactEvaluator)
    sampled = evaluators.evaluator(ring, model, variables, exact=False, n_samples=512)
    assert isinstance(sampled, SampledEvaluator) and sampled.n_samples == 512


def test_sampled_energies_and_czz_agree_with_exact_within_their_errors():
    chain = TFIMChain(8, h=1.0)
    model, variables = rbm(chain, seed=2)
    interventions = [Identity("hidden.post"), Ablate("hidden.post", [0]), Ablate("hidden.post", [3])]
    exact = evaluators.exact_evaluator(chain, model, variables).evaluate(interventions)
    sampled = evaluators.sampled_evaluator(chain, model, variables, n_samples=8192, seed=5).evaluate(interventions)
    assert exact.exact and not sampled.exact and exact.unit == sampled.unit == "J"
    z_K = np.abs(sampled.energies_K - exact.energies_K) / sampled.energy_errors_K
    assert np.all(z_K < 5), z_K
    z_KR = np.abs(sampled.observables["czz"] - exact.observables["czz"]) / np.maximum(sampled.observable_errors["czz"], 1e-12)
    assert np.all(z_KR[:, 1:] < 5)


def test_configurations_are_the_born_weighted_basis_when_exact():
    ring = HeisenbergRing(6)
    model, variables = rbm(ring)
    configs = evaluators.configurations(ring, lambda s: model.apply(variables, s))
    log_psi_S = np.asarray(model.apply(variables, ring.hilbert.all_states()))
    p_S = np.exp(2 * (log_psi_S - log_psi_S.max()))
    assert configs.exact and np.allclose(configs.weights_S, p_S / p_S.sum(), atol=1e-15)
