"""The NQS ansätze: closed-form log ψ, hook points, masks, NetKet compatibility."""

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.hooks import Lens
from physlens.quantum.models import FFNN, RBM, log_cosh
from physlens.quantum.systems import HeisenbergRing


def random_variables(model, n, seed=0, scale=0.3):
    v = model.init(jax.random.PRNGKey(seed), jnp.ones((1, n)))
    leaves, tree = jax.tree_util.tree_flatten(v)
    keys = jax.random.split(jax.random.PRNGKey(seed + 1), len(leaves))
    return jax.tree_util.tree_unflatten(tree, [scale * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])


def test_rbm_matches_closed_form():
    sigma = np.array(HeisenbergRing(8).hilbert.all_states())
    v = random_variables(RBM(alpha=2), 8)
    p = v["params"]
    W, b, a = (np.asarray(p["hidden"]["kernel"]), np.asarray(p["hidden"]["bias"]), np.asarray(p["visible_bias"]))
    expected = sigma @ a + np.log(np.cosh(sigma @ W + b)).sum(-1)
    np.testing.assert_allclose(RBM(alpha=2).apply(v, sigma), expected, atol=1e-12)


def test_log_cosh_is_stable():
    x = jnp.array([-800.0, -3.0, 0.0, 2.5, 900.0])
    np.testing.assert_allclose(log_cosh(x)[1:4], np.log(np.cosh(np.array([-3.0, 0.0, 2.5]))), atol=1e-14)
    assert np.isfinite(log_cosh(x)).all()
    np.testing.assert_allclose(log_cosh(x)[jnp.array([0, 4])], np.array([800.0, 900.0]) - np.log(2.0))


def test_hidden_mask_removes_exactly_those_units():
    sigma = np.array(HeisenbergRing(8).hilbert.all_states())
    v = random_variables(RBM(alpha=1), 8)
    mask = tuple(j not in (2, 5) for j in range(8))
    pre = sigma @ np.asarray(v["params"]["hidden"]["kernel"]) + np.asarray(v["params"]["hidden"]["bias"])
    contribution = np.log(np.cosh(pre[:, [2, 5]])).sum(-1)
    np.testing.assert_allclose(RBM(alpha=1, hidden_mask=mask).apply(v, sigma),
                               RBM(alpha=1).apply(v, sigma) - contribution, atol=1e-12)
    with pytest.raises(PhyslensError, match="hidden_mask has 3 entries"):
        RBM(alpha=1, hidden_mask=(True,) * 3).apply(v, sigma)


def test_hook_points_are_named_transformerlens_style():
    x = jnp.ones((2, 6))
    rbm = Lens(RBM(alpha=1), random_variables(RBM(alpha=1), 6))
    assert rbm.hook_points(x) == ["hidden.pre", "hidden.post", "out"]
    ffnn = Lens(FFNN(widths=(4, 3)), random_variables(FFNN(widths=(4, 3)), 6))
    assert ffnn.hook_points(x) == ["layers.0.pre", "layers.0.post", "layers.1.pre", "layers.1.post", "out"]


def test_ffnn_matches_closed_form():
    sigma = np.array(HeisenbergRing(6).hilbert.all_states())
    model = FFNN(widths=(5, 4), activation="log_cosh")
    p = random_variables(model, 6)["params"]
    h = sigma
    for i in range(2):
        h = np.log(np.cosh(h @ np.asarray(p[f"layers.{i}"]["kernel"]) + np.asarray(p[f"layers.{i}"]["bias"])))
    np.testing.assert_allclose(model.apply({"params": p}, sigma), h.sum(-1), atol=1e-12)


def test_models_work_inside_netket_states():
    ring = HeisenbergRing(6)
    for model in (RBM(alpha=2), FFNN(widths=(8,))):
        fs = nk.vqs.FullSumState(ring.hilbert, model, seed=0)
        sa = nk.sampler.MetropolisExchange(ring.hilbert, graph=ring.graph, n_chains=4)
        mc = nk.vqs.MCState(sa, model, n_samples=64, seed=0)
        assert np.isfinite(fs.expect(ring.hamiltonian).mean.real)
        assert np.isfinite(mc.expect(ring.hamiltonian).mean.real)
