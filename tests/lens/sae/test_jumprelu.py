"""JumpReLU SAE: loss against NumPy, and straight-through gradients against their closed form."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.sae import JumpReLUConfig
from physlens.lens.sae.jumprelu import heaviside, jumprelu


def numpy_parts(params, x):
    W_enc, b_enc, W_dec, b_dec = (np.asarray(params[n]) for n in ("W_enc", "b_enc", "W_dec", "b_dec"))
    theta = np.exp(np.asarray(params["log_threshold"]))
    pre = (x - b_dec) @ W_enc + b_enc
    z = np.where(pre > theta, pre, 0.0)
    recon = z @ W_dec + b_dec
    return pre, theta, z, recon


def test_jumprelu_loss_matches_numpy(random_sae):
    sae = random_sae("jumprelu", seed=5)
    x = np.random.default_rng(5).normal(size=(24, sae.cfg.d_in))
    _, _, z, recon = numpy_parts(sae.params, x)
    expected = np.mean(np.sum((x - recon) ** 2, axis=1)) + sae.cfg.l0_coefficient * np.mean(np.count_nonzero(z, axis=1))
    loss, parts = sae.cfg.loss(sae.params, jnp.asarray(x), jnp.zeros(sae.cfg.d_sae, bool))
    assert abs(float(loss) - expected) < 1e-10
    assert float(parts["l0"]) == pytest.approx(np.mean(np.count_nonzero(z, axis=1)), abs=1e-12)


def test_threshold_gradient_matches_the_closed_form(random_sae):
    sae = random_sae("jumprelu", seed=6)
    eps, lam = sae.cfg.bandwidth, sae.cfg.l0_coefficient
    x = np.random.default_rng(6).normal(size=(40, sae.cfg.d_in))
    pre, theta, _, recon = numpy_parts(sae.params, x)
    B = len(x)
    kernel = (np.abs((pre - theta) / eps) < 0.5).astype(float)
    assert kernel.sum() > 20, "the test needs pre-activations inside the kernel window"
    dmse_dz = (2.0 / B) * (recon - x) @ np.asarray(sae.params["W_dec"]).T
    dL_dtheta = np.sum(dmse_dz * (-theta / eps) * kernel, axis=0) + lam / B * np.sum(-kernel / eps, axis=0)
    grads = jax.jit(jax.grad(lambda p: sae.cfg.loss(p, jnp.asarray(x), jnp.zeros(sae.cfg.d_sae, bool))[0]))(sae.params)
    np.testing.assert_allclose(grads["log_threshold"], theta * dL_dtheta, rtol=0, atol=1e-10)


def test_straight_through_pieces():
    pre = jnp.array([[0.10, 0.28, 0.31, 0.50], [0.29, -1.0, 0.33, 0.2]])
    theta = jnp.array([0.3, 0.3, 0.3, 0.3])
    eps = 0.1
    g = jnp.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
    grad_pre, grad_theta = jax.vjp(lambda p, t: jumprelu(p, t, eps), pre, theta)[1](g)
    np.testing.assert_array_equal(grad_pre, np.where(np.asarray(pre) > 0.3, np.asarray(g), 0.0))
    in_window = np.abs((np.asarray(pre) - 0.3) / eps) < 0.5
    np.testing.assert_allclose(grad_theta, (-(0.3 / eps) * in_window * np.asarray(g)).sum(0), atol=1e-14)
    grad_pre_h, grad_theta_h = jax.vjp(lambda p, t: heaviside(p, t, eps), pre, theta)[1](g)
    np.testing.assert_array_equal(grad_pre_h, np.zeros((2, 4)))
    np.testing.assert_allclose(grad_theta_h, (-(1 / eps) * in_window * np.asarray(g)).sum(0), atol=1e-12)


def test_thresholds_start_at_the_initial_threshold():
    cfg = JumpReLUConfig(d_in=4, d_sae=8, l0_coefficient=0.1)
    np.testing.assert_allclose(np.exp(cfg.extra_params()["log_threshold"]), np.full(8, 0.001), rtol=1e-15)


@pytest.mark.parametrize("fields", [{"bandwidth": 0.0}, {"initial_threshold": 0.0}, {"l0_coefficient": -1.0}])
def test_bad_jumprelu_config_is_refused(fields):
    with pytest.raises(PhyslensError):
        JumpReLUConfig(d_in=4, d_sae=8, **({"l0_coefficient": 0.1} | fields))
