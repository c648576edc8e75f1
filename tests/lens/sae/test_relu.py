"""ReLU SAE: the decoder-norm-weighted L1 loss against a NumPy reference loop."""

import jax.numpy as jnp
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.sae import ReLUConfig


def numpy_relu_loss(params, x, l1):
    """Mean over inputs of ‖x − x̂‖² + l1 Σ_f z_f ‖W_dec,f‖, one input at a time."""
    W_enc, b_enc, W_dec, b_dec = (np.asarray(params[n]) for n in ("W_enc", "b_enc", "W_dec", "b_dec"))
    total = 0.0
    for xb in x:
        z = np.maximum((xb - b_dec) @ W_enc + b_enc, 0.0)
        recon = z @ W_dec + b_dec
        total += np.sum((xb - recon) ** 2) + l1 * sum(z[f] * np.linalg.norm(W_dec[f]) for f in range(len(z)))
    return total / len(x)


def test_relu_loss_matches_numpy(random_sae):
    sae = random_sae("relu", seed=3)
    x = np.random.default_rng(3).normal(size=(20, sae.cfg.d_in))
    loss, parts = sae.cfg.loss(sae.params, jnp.asarray(x), jnp.zeros(sae.cfg.d_sae, bool))
    assert abs(float(loss) - numpy_relu_loss(sae.params, x, sae.cfg.l1_coefficient)) < 1e-10
    assert abs(float(parts["mse"]) - numpy_relu_loss(sae.params, x, 0.0)) < 1e-10


def test_relu_activation_is_relu(random_sae):
    sae = random_sae("relu")
    pre = jnp.asarray(np.random.default_rng(0).normal(size=(4, sae.cfg.d_sae)))
    np.testing.assert_array_equal(sae.cfg.activate(pre, sae.params), np.maximum(np.asarray(pre), 0.0))


@pytest.mark.parametrize("l1", [-0.1, float("nan"), float("inf"), "0.1"])
def test_bad_l1_coefficient_is_refused(l1):
    with pytest.raises(PhyslensError):
        ReLUConfig(d_in=4, d_sae=8, l1_coefficient=l1)
