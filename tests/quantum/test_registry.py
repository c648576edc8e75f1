"""The model registry: building physlens's ansätze, parsing model specs, units of known models."""

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.quantum.models import RBM
from physlens.quantum.registry import (build_model, describe, entry_for, instrumented, lens_of, model_from_spec,
                                       n_parameters, parse_kwargs)


@pytest.mark.parametrize("kwargs,match", [
    (dict(name="rbm", alpha=0.0), "alpha must be > 0"),
    (dict(name="rbm", alpha=-1.0), "alpha must be > 0"),
    (dict(name="cnn"), "unknown model"),
    (dict(name="ffnn", activation="tanh"), "unknown activation"),
    (dict(name="ffnn", widths=(0,)), "positive integers"),
])
def test_build_model_rejects_bad_input(kwargs, match):
    with pytest.raises(PhyslensError, match=match):
        build_model(**kwargs)


def test_specs_build_the_named_classes_with_their_arguments():
    assert model_from_spec("rbm:alpha=3") == RBM(alpha=3)
    rbm = model_from_spec("netket.RBM:alpha=2,param_dtype=complex")
    assert isinstance(rbm, nk.models.RBM) and rbm.alpha == 2 and rbm.param_dtype == jnp.complex128
    mlp = model_from_spec("netket.MLP:hidden_dims=[8, 4]")
    assert mlp.hidden_dims == (8, 4)
    assert model_from_spec("netket.models:Jastrow") == nk.models.Jastrow()
    assert parse_kwargs("a=1, b=[1, 2], c=relu, d=true") == {"a": 1, "b": (1, 2), "c": "relu", "d": True}


@pytest.mark.parametrize("spec, match", [
    ("cnn", "unknown model 'cnn'"),
    ("netket.RBM:alpha", "must look like NAME=VALUE"),
    ("netket.RBM:param_dtype=half", "unknown param_dtype"),
    ("numpy:ndarray", "not a flax.linen Module"),
])
def test_bad_specs(spec, match):
    with pytest.raises(PhyslensError, match=match):
        model_from_spec(spec)


def test_units_of_known_models_and_their_exactness_conditions():
    assert entry_for(RBM(alpha=1)).units(RBM(alpha=1))[0] == "hidden.post"
    assert entry_for(nk.models.RBM()).units(nk.models.RBM())[0] == "hidden.post"
    mlp = nk.models.MLP(hidden_dims=(4,), hidden_activations=jax.nn.relu)
    assert entry_for(mlp).units(mlp)[0] == "MLP_0.Dense_0"
    sigmoid_mlp = nk.models.MLP(hidden_dims=(4,), hidden_activations=jax.nn.sigmoid)
    assert entry_for(sigmoid_mlp).units(sigmoid_mlp) is None, "sigmoid(0) ≠ 0: zeroing the pre-activation is no removal"
    variables = nk.models.RBM(alpha=2).init(jax.random.PRNGKey(0), np.ones((1, 5)))
    W_MN = entry_for(nk.models.RBM()).unit_weights(variables)
    assert np.array_equal(W_MN, np.asarray(variables["params"]["Dense"]["kernel"]).T) and W_MN.shape == (10, 5)


def test_netket_rbm_gets_alias_sites_with_identical_outputs():
    model = nk.models.RBM(alpha=2, activation=jax.nn.softplus)
    variables = model.init(jax.random.PRNGKey(3), np.ones((1, 6)))
    sigma_BN = np.sign(np.random.default_rng(0).normal(size=(7, 6)))
    hooked = instrumented(model)
    assert np.array_equal(hooked.apply(variables, sigma_BN), model.apply(variables, sigma_BN))
    _, cache = lens_of(model, variables).run_with_cache(sigma_BN, ["hidden.pre", "hidden.post"])
    pre = sigma_BN @ variables["params"]["Dense"]["kernel"] + variables["params"]["Dense"]["bias"]
    assert np.allclose(cache["hidden.pre"], pre, atol=1e-14)
    assert np.allclose(cache["hidden.post"], jax.nn.softplus(pre), atol=1e-14)
    assert instrumented(hooked) is hooked and describe(model) == describe(nk.models.RBM(alpha=2, activation=jax.nn.softplus))


def test_describe_and_count():
    assert describe(nk.models.RBM(alpha=2)) == "netket.RBM(alpha=2)"
    assert describe(RBM(alpha=1.5)) == "rbm(alpha=1.5)"
    complex_rbm = nk.models.RBM(alpha=1, param_dtype=complex)
    variables = complex_rbm.init(jax.random.PRNGKey(0), np.ones((1, 4)))
    assert n_parameters(variables) == 2 * (4 * 4 + 4 + 4)


def test_complex_netket_rbm_keeps_its_own_log_cosh():
    """The faster log cosh is for real parameters only: with complex ones the aliases change nothing either."""
    model = nk.models.RBM(alpha=1, param_dtype=complex)
    variables = model.init(jax.random.PRNGKey(4), np.ones((1, 6)))
    variables = jax.tree.map(lambda x: x + 0.7j * jnp.abs(x) + 0.3, variables)
    sigma_BN = np.sign(np.random.default_rng(1).normal(size=(9, 6)))
    out = lens_of(model, variables).run_with_hooks(sigma_BN, {})
    assert np.array_equal(out, model.apply(variables, sigma_BN)) and np.iscomplexobj(out)
