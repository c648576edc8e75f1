"""Predictions of a nuclear regressor in MeV: B from B/A by the mass number, other tasks as read out; refusals."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.nuclear.evaluate import binding_factor, predict, rms
from physlens.nuclear.model import NuclearModel


@pytest.fixture(scope="module")
def model_and_variables():
    model = NuclearModel(n_z=12, n_n=15, tasks=("B", "S_n"), width=4, depth=1, mlp_ratio=2,
                         target_shift=(8.0, 10.0), target_scale=(0.5, 3.0))
    return model, model.init(jax.random.PRNGKey(0), jnp.array([[8, 8, 0]]))


def test_binding_energy_is_the_read_out_times_the_mass_number_per_nucleon(model_and_variables):
    model, variables = model_and_variables
    Z_K, N_K = np.array([8, 11, 3]), np.array([8, 14, 0])
    readout_K = np.asarray(model.apply(variables, jnp.stack([Z_K, N_K, np.zeros(3, int)], axis=1)))
    np.testing.assert_allclose(predict(model, Z_K, N_K, "B", variables), readout_K * (Z_K + N_K), rtol=1e-14)
    total = dataclasses.replace(model, binding_per_nucleon=False)
    np.testing.assert_allclose(predict(total, Z_K, N_K, "B", variables), readout_K, rtol=1e-14)
    np.testing.assert_array_equal(binding_factor(model, Z_K, N_K), [16, 25, 3])
    separation_K = np.asarray(model.apply(variables, jnp.stack([Z_K, N_K, np.ones(3, int)], axis=1)))
    np.testing.assert_allclose(predict(model, Z_K, N_K, "S_n", variables), separation_K, rtol=1e-14)


@pytest.mark.parametrize("args,match", [
    (([8], [8], "Q_alpha"), "unknown task 'Q_alpha'; this model predicts: B, S_n"),
    (([8, 9], [8], "B"), "1-D arrays of one length"),
    (([12], [8], "B"), r"Z and N must lie in \[0, 12\) and \[0, 15\)"),
    (([-1], [8], "B"), r"Z and N must lie in"),
])
def test_bad_requests_are_one_line_errors(model_and_variables, args, match):
    model, variables = model_and_variables
    with pytest.raises(PhyslensError, match=match):
        predict(model, *args, variables=variables)
    with pytest.raises(PhyslensError, match="needs its variables"):
        predict(model, [8], [8], "B")


def test_rms_of_nothing_is_nan():
    assert rms(np.array([3.0, -4.0])) == pytest.approx(np.sqrt(12.5)) and np.isnan(rms(np.array([])))
