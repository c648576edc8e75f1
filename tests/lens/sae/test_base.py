"""Shared SAE machinery: geometric median, decoder constraint, normalisation, init, encode/decode."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.sae import (
    TopKConfig,
    decode,
    encode,
    geometric_median,
    init_sae,
    reconstruct,
    remove_parallel_grads,
    unit_norm_rows,
)
from physlens.lens.sae.base import normalise


def brute_force_median(points, n_grid=41, zooms=30):
    """Grid search over a box, shrunk around the best grid point ``zooms`` times."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre, half = (lo + hi) / 2, (hi - lo) / 2 + 1e-9
    for _ in range(zooms):
        axes = [np.linspace(c - h, c + h, n_grid) for c, h in zip(centre, half)]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, points.shape[1])
        cost = np.linalg.norm(grid[:, None, :] - points[None], axis=-1).sum(axis=1)
        centre, half = grid[np.argmin(cost)], half * 4 / (n_grid - 1)
    return centre


def median_cost(y, points):
    return np.linalg.norm(points - y, axis=1).sum()


@pytest.mark.parametrize("d,seed", [(2, 0), (2, 1), (3, 2)])
def test_geometric_median_matches_brute_force(d, seed):
    points = np.random.default_rng(seed).normal(size=(9, d)) * [1.0, 3.0, 0.5][:d]
    points[0] += 6.0
    got = np.asarray(geometric_median(jnp.asarray(points)))
    ref = brute_force_median(points, n_grid=41 if d == 2 else 15)
    np.testing.assert_allclose(got, ref, atol=1e-7)
    assert median_cost(got, points) <= median_cost(ref, points) + 1e-12
    assert median_cost(got, points) < median_cost(points.mean(axis=0), points)


def test_geometric_median_on_a_data_point():
    # The unit vectors from the origin to the other points sum to norm 0.44 < 1, so the
    # median is the origin, although the mean (where the iterations start) is not.
    points = np.array([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [2.0, 0.5], [-1.5, 0.3]])
    np.testing.assert_allclose(geometric_median(jnp.asarray(points)), [0.0, 0.0], atol=1e-9)


def test_parallel_gradient_removal_leaves_orthogonal_gradients(random_sae):
    sae = random_sae("relu", seed=2)
    params = sae.params | {"W_dec": unit_norm_rows(sae.params["W_dec"])}
    x = jnp.asarray(np.random.default_rng(2).normal(size=(32, sae.cfg.d_in)))
    loss_grad = jax.jit(jax.grad(lambda p: sae.cfg.loss(p, x, jnp.zeros(sae.cfg.d_sae, bool))[0]))
    grad = loss_grad(params)["W_dec"]
    assert np.abs(np.sum(np.asarray(grad * params["W_dec"]), axis=1)).max() > 1e-3
    for W in (params["W_dec"], sae.params["W_dec"]):
        projected = remove_parallel_grads(W, grad)
        np.testing.assert_allclose(np.sum(np.asarray(projected * W), axis=1), 0.0, atol=1e-12)
        removed = np.asarray(grad - projected)
        cross = np.cross(removed[:, :3], np.asarray(W)[:, :3])
        np.testing.assert_allclose(cross, 0.0, atol=1e-12)
        np.testing.assert_allclose(remove_parallel_grads(W, projected), projected, atol=1e-12)


def test_unit_norm_rows():
    W = jnp.asarray(np.random.default_rng(0).normal(size=(7, 5)) * 3.0)
    np.testing.assert_allclose(np.linalg.norm(unit_norm_rows(W), axis=1), 1.0, atol=1e-15)


def test_init_normalises_ties_and_starts_at_the_median():
    rng = np.random.default_rng(4)
    acts = 5.0 + 3.0 * rng.normal(size=(500, 6)) ** 3
    sae = init_sae(TopKConfig(d_in=6, d_sae=20, k=4), acts, jax.random.key(0))
    x = np.asarray(normalise(sae, jnp.asarray(acts)))
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.mean(np.sum(x**2, axis=1)), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(sae.params["W_enc"], np.asarray(sae.params["W_dec"]).T)
    np.testing.assert_allclose(np.linalg.norm(sae.params["W_dec"], axis=1), 1.0, atol=1e-14)
    np.testing.assert_array_equal(sae.params["b_enc"], np.zeros(20))
    np.testing.assert_allclose(sae.params["b_dec"], geometric_median(jnp.asarray(x)), atol=1e-12)
    assert all(v.dtype == jnp.float64 for v in sae.params.values())


def test_encode_decode_follow_the_formula_and_keep_leading_axes(random_sae, architecture):
    sae = random_sae(architecture, seed=7)
    acts = np.random.default_rng(7).normal(size=(2, 5, sae.cfg.d_in)) * 3.0
    latents = encode(sae, jnp.asarray(acts))
    assert latents.shape == (2, 5, sae.cfg.d_sae)
    p = {k: np.asarray(v) for k, v in sae.params.items()}
    x = (acts - np.asarray(sae.mean_D)) / float(sae.rms_norm)
    pre = (x - p["b_dec"]) @ p["W_enc"] + p["b_enc"]
    np.testing.assert_allclose(latents, sae.cfg.activate(jnp.asarray(pre), sae.params), atol=1e-12)
    expected = (np.asarray(latents) @ p["W_dec"] + p["b_dec"]) * float(sae.rms_norm) + np.asarray(sae.mean_D)
    np.testing.assert_allclose(decode(sae, latents), expected, atol=1e-12)
    np.testing.assert_array_equal(reconstruct(sae, jnp.asarray(acts)), decode(sae, latents))


def test_bad_inputs_are_refused(random_sae):
    sae = random_sae("topk")
    with pytest.raises(PhyslensError, match="last axis 6"):
        encode(sae, jnp.zeros((3, 5)))
    with pytest.raises(PhyslensError, match="last axis 10"):
        decode(sae, jnp.zeros((3, 6)))
    with pytest.raises(PhyslensError, match="identical"):
        init_sae(TopKConfig(d_in=3, d_sae=4, k=1), np.ones((10, 3)), jax.random.key(0))
    with pytest.raises(PhyslensError, match=r"shape \(N, 3\)"):
        init_sae(TopKConfig(d_in=3, d_sae=4, k=1), np.ones((10, 4)), jax.random.key(0))
    for fields in ({"d_in": 0}, {"d_sae": 2.5}, {"dead_after_tokens": True}):
        with pytest.raises(PhyslensError):
            TopKConfig(**({"d_in": 3, "d_sae": 4, "k": 1} | fields))


def test_sae_imports_no_physics_domain():
    code = (
        "import sys, physlens.lens.sae; "
        "print(sorted(m for m in sys.modules if m.startswith(('physlens.quantum', 'physlens.nuclear'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
