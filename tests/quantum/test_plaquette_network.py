"""The hand-built plaquette network against the toric code's exact ground energy, by full sums."""

import numpy as np
import pytest

from physlens.quantum.plaquette_network import ODD_PATTERNS, plaquette_network
from physlens.quantum.systems import ToricCode

SYSTEM = ToricCode(3)


@pytest.fixture(scope="module")
def basis_and_hamiltonian():
    return np.asarray(SYSTEM.hilbert.all_states(), dtype=float), SYSTEM.sparse_hamiltonian().tocsr()


def energy(weight, basis, hamiltonian):
    model, params = plaquette_network(SYSTEM, weight)
    log_psi = np.asarray(model.apply({"params": params}, basis))
    psi = np.exp(log_psi - log_psi.max())
    return psi @ (hamiltonian @ psi) / (psi @ psi)


def test_shape_72_units_and_288_weights():
    model, params = plaquette_network(SYSTEM, 1.0)
    kernel = params["layers.0"]["kernel"]
    assert model.widths == (72,) and not model.use_bias
    assert kernel.shape == (18, 72) and np.count_nonzero(kernel) == 288
    assert len(ODD_PATTERNS) == 8 and np.all(np.prod(ODD_PATTERNS, axis=1) == -1)


def test_exact_ground_energy_at_weight_two(basis_and_hamiltonian):
    assert energy(2.0, *basis_and_hamiltonian) == pytest.approx(-18.0, abs=1e-10)


def test_error_falls_as_the_weights_grow(basis_and_hamiltonian):
    errors = [abs(energy(w, *basis_and_hamiltonian) + 18) / 18 for w in (0.5, 1.0, 2.0)]
    assert errors[0] > 1e-3 and 1e-7 < errors[1] < 1e-5 and errors[2] < 1e-12


def test_each_violated_plaquette_costs_4w():
    weight = 0.7
    model, params = plaquette_network(SYSTEM, weight)
    flux_free = np.ones((1, 18))
    one_edge = flux_free.copy()
    one_edge[0, 0] = -1          # an edge borders two plaquettes: both violated
    gap = np.asarray(model.apply({"params": params}, flux_free) - model.apply({"params": params}, one_edge))[0]
    assert gap == pytest.approx(2 * 4 * weight, abs=1e-12)
