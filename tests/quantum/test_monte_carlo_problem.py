"""Monte Carlo estimates of masked networks against the exact full sums of a small lattice."""

import jax
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.mask import Mask
from physlens.lens.pruning import prune_global
from physlens.quantum.magnetisation import magnetisations
from physlens.quantum.models import FFNN
from physlens.quantum.monte_carlo_problem import MonteCarloProblem
from physlens.quantum.systems import make_system

SYSTEM = make_system("tfim-square", 3, h=2.0, pbc=False)
MODEL = FFNN(widths=(6,), activation="relu", use_bias=False, kernel_std=0.4)
PROBLEM = MonteCarloProblem(SYSTEM, e0=SYSTEM.exact().energy, reference="Lanczos", samples=16_384, chains=16, discard=50)


def _network(seed):
    params = jax.tree_util.tree_map(np.asarray, MODEL.init(jax.random.PRNGKey(seed), np.ones((1, 9)))["params"])
    return params, prune_global(params, Mask.ones_like(params), 0.4)


def test_estimates_agree_with_the_full_sums_within_their_errors():
    params, mask = _network(0)
    basis = np.asarray(SYSTEM.hilbert.all_states(), dtype=float)
    log_psi = np.asarray(MODEL.apply({"params": mask.apply(params)}, basis))
    exact = {"energy": SYSTEM.energy_of(log_psi), **magnetisations(basis, log_psi)}
    values = PROBLEM.sample(MODEL, params, mask).values
    for name, value in exact.items():
        assert 0 < values[f"{name}_sem"] < 0.05 * max(abs(value), 0.1), name
        assert abs(values[name] - value) < 5 * values[f"{name}_sem"], name
    assert exact["abs_m_z"] > 0.2 and abs(exact["m_x"]) > 0.2       # a state that tests both kinds of estimator


def test_energies_are_reproducible_and_match_the_samples():
    networks = [_network(seed) for seed in (0, 1)]
    energy_K, sem_K = PROBLEM.energies(MODEL, [p for p, _ in networks], [m for _, m in networks])
    again_K, _ = PROBLEM.energies(MODEL, [p for p, _ in networks], [m for _, m in networks])
    assert np.array_equal(energy_K, again_K) and energy_K[0] != energy_K[1]
    values = PROBLEM.sample(MODEL, *networks[0]).values
    assert energy_K[0] == values["energy"]
    without = PROBLEM.sample(MODEL, *networks[0], with_energy=False).values      # the same samples, no energy
    assert without == {k: v for k, v in values.items() if not k.startswith("energy")}
    assert np.all(sem_K > 0) and PROBLEM.method.startswith("Monte Carlo: 16,384 samples") and "Lanczos" in PROBLEM.method


def test_chains_must_divide_the_samples():
    with pytest.raises(PhyslensError, match="chains dividing samples"):
        MonteCarloProblem(SYSTEM, e0=-1.0, reference="x", samples=1000, chains=16)
