"""TopK SAE: the activation and the TopK + AuxK loss against a NumPy reference loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.sae import TopKConfig
from physlens.lens.sae.topk import topk_latents, topk_mask


def numpy_topk(pre, k):
    """Row by row: keep the k largest finite entries (lowest index first on ties), ReLU them."""
    out = np.zeros_like(pre)
    for b, row in enumerate(pre):
        finite = [f for f in np.argsort(-row, kind="stable") if np.isfinite(row[f])]
        for f in finite[:k]:
            out[b, f] = max(row[f], 0.0)
    return out


def numpy_topk_loss(params, x, dead, k, k_aux, alpha):
    """Normalised MSE + alpha * AuxK, written out with loops and NumPy."""
    W_enc, b_enc, W_dec, b_dec = (np.asarray(params[n]) for n in ("W_enc", "b_enc", "W_dec", "b_dec"))
    pre = (x - b_dec) @ W_enc + b_enc
    z = numpy_topk(pre, k)
    recon = z @ W_dec + b_dec
    mse = np.mean([np.sum((x[b] - recon[b]) ** 2) for b in range(len(x))])
    if not dead.any():
        return mse
    e = x - recon
    z_aux = numpy_topk(np.where(dead, pre, -np.inf), k_aux)
    e_hat = z_aux @ W_dec
    aux = np.sum((e_hat - e) ** 2) / np.sum((e - e.mean(axis=0)) ** 2)
    return mse + alpha * aux


def test_topk_latents_match_numpy():
    pre = np.random.default_rng(0).normal(size=(3, 7, 20))
    got = topk_latents(jnp.asarray(pre), 5)
    np.testing.assert_array_equal(got, numpy_topk(pre.reshape(-1, 20), 5).reshape(3, 7, 20))
    assert (np.count_nonzero(np.asarray(topk_mask(jnp.asarray(pre), 5)), axis=-1) == 5).all()


def test_topk_mask_ties_and_minus_infinity():
    inf = np.inf
    pre = np.array([[5.0, 5.0, 5.0, 1.0], [1.0, 2.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0], [-inf, -inf, 3.0, -inf]])
    expected_k2 = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 1, 0]], dtype=bool)
    np.testing.assert_array_equal(topk_mask(jnp.asarray(pre), 2), expected_k2)
    for k in (1, 3):
        ref = numpy_topk(pre + 10.0, k) > 0
        np.testing.assert_array_equal(topk_mask(jnp.asarray(pre), k), ref)


@pytest.mark.parametrize("n_dead", [0, 3, 7])
def test_topk_auxk_loss_matches_numpy(random_sae, n_dead):
    sae = random_sae("topk", seed=n_dead, k_aux=5)
    rng = np.random.default_rng(42)
    x = rng.normal(size=(16, sae.cfg.d_in))
    dead = np.zeros(sae.cfg.d_sae, dtype=bool)
    dead[rng.choice(sae.cfg.d_sae, n_dead, replace=False)] = True
    loss, parts = sae.cfg.loss(sae.params, jnp.asarray(x), jnp.asarray(dead))
    expected = numpy_topk_loss(sae.params, x, dead, sae.cfg.k, 5, 1 / 32)
    assert abs(float(loss) - expected) < 1e-10
    assert float(parts["l0"]) <= sae.cfg.k
    if n_dead:
        assert float(parts["penalty"]) > 0
    else:
        assert float(parts["penalty"]) == 0.0


def test_auxk_residual_carries_no_gradient(random_sae):
    sae = random_sae("topk", seed=1)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(8, sae.cfg.d_in)))
    pre = (x - sae.params["b_dec"]) @ sae.params["W_enc"] + sae.params["b_enc"]
    dead = jnp.arange(sae.cfg.d_sae) % 2 == 0
    grad_e = jax.grad(lambda e: sae.cfg.aux_loss(sae.params, pre, e, dead))(x)
    np.testing.assert_array_equal(grad_e, np.zeros_like(x))


def test_k_aux_defaults_to_half_the_input_width():
    assert TopKConfig(d_in=64, d_sae=512, k=16).k_aux == 32
    assert TopKConfig(d_in=64, d_sae=8, k=4).k_aux == 8
    assert TopKConfig(d_in=64, d_sae=512, k=16).aux_coefficient == 1 / 32


@pytest.mark.parametrize("fields", [{"k": 0}, {"k": 11}, {"k": 2, "k_aux": 11}, {"k": 2, "aux_coefficient": -1.0}])
def test_bad_topk_config_is_refused(fields):
    with pytest.raises(PhyslensError):
        TopKConfig(d_in=6, d_sae=10, **fields)
