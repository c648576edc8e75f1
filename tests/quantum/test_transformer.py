"""The transformer NQS: patching, a NumPy reference forward pass, hooks, symmetry, NetKet and lens compatibility."""

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.evaluate import ExactEvaluator
from physlens.lens.hooks import Lens
from physlens.lens.interventions import Identity, LensLogPsi, Scale
from physlens.lens.sampled import SampledEvaluator
from physlens.quantum.registry import build_model
from physlens.quantum.observables import local_energy_per_config
from physlens.quantum.systems import HeisenbergRing
from physlens.quantum.transformer import Transformer, patch_indices, relative_offsets

def randomised(model, n, seed=0, scale=0.4):
    v = jax.jit(model.init)(jax.random.PRNGKey(seed), jnp.ones((1, n)))
    leaves, tree = jax.tree_util.tree_flatten(v)
    keys = jax.random.split(jax.random.PRNGKey(seed + 1), len(leaves))
    return jax.tree_util.tree_unflatten(tree, [x + scale * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])


def test_patches_are_runs_on_chains_and_squares_on_lattices():
    np.testing.assert_array_equal(patch_indices((6,), 2), [[0, 1], [2, 3], [4, 5]])
    expected = [[x * 4 + y for x in (a, a + 1) for y in (c, c + 1)] for a in (0, 2) for c in (0, 2)]
    np.testing.assert_array_equal(patch_indices((4, 4), 2), expected)
    with pytest.raises(PhyslensError, match="must be >= 1 and divide"):
        patch_indices((6, 6), 4)


def test_relative_offsets_share_one_index_per_displacement():
    grid = (3, 2)
    index = relative_offsets(grid)
    coords = [(a, c) for a in range(3) for c in range(2)]
    for t, (a, c) in enumerate(coords):
        for s, (a2, c2) in enumerate(coords):
            assert index[t, s] == ((a2 - a) % 3) * 2 + (c2 - c) % 2


def _layer_norm(x, p):
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-6) * np.asarray(p["scale"]) + np.asarray(p["bias"])


def _dense(x, p):
    return x @ np.asarray(p["kernel"]) + np.asarray(p["bias"])


def numpy_transformer(params, sigma_BN, patches_TP, n_heads):
    """Independent forward pass of a 1-layer Transformer with learned positions."""
    x = _dense(sigma_BN[:, patches_TP], params["embed_patch"]) + np.asarray(params["pos_embed"])
    p = params["layers.0"]
    h = _layer_norm(x, p["ln_attn"])
    B, T, D = h.shape
    e = D // n_heads
    q, k, v = (_dense(h, p[n]).reshape(B, T, n_heads, e) for n in ("query", "key", "value"))
    logits = np.einsum("bthe,bshe->bhts", q, k) / np.sqrt(e)
    attn = np.exp(logits - logits.max(-1, keepdims=True))
    attn /= attn.sum(-1, keepdims=True)
    x = x + _dense(np.einsum("bhts,bshe->bthe", attn, v).reshape(B, T, D), p["attn_proj"])
    h = _dense(_layer_norm(x, p["ln_mlp"]), p["mlp_in"])
    gelu = 0.5 * h * (1 + np.tanh(np.sqrt(2 / np.pi) * (h + 0.044715 * h**3)))
    x = x + _dense(gelu, p["mlp_out"])
    pooled = _layer_norm(x, params["ln_final"]).mean(1)
    return np.log(np.cosh(_dense(pooled, params["readout"]))).sum(-1)


def test_matches_numpy_reference_on_a_square_lattice():
    model = Transformer(lattice_shape=(4, 4), patch_size=2, d_model=8, n_layers=1, n_heads=2)
    sigma = np.random.default_rng(0).choice([-1.0, 1.0], size=(5, 16))
    v = randomised(model, 16)
    expected = numpy_transformer(v["params"], sigma, patch_indices((4, 4), 2), 2)
    apply = jax.jit(model.apply)
    np.testing.assert_allclose(apply(v, sigma), expected, rtol=1e-10)
    np.testing.assert_allclose(apply(v, sigma[0]), expected[0], rtol=1e-10)


def test_hook_points_and_shapes():
    model = Transformer(lattice_shape=(8,), patch_size=2, d_model=6, n_layers=2, n_heads=3)
    x = jnp.ones((3, 8))
    lens = Lens(model, randomised(model, 8))
    names = lens.hook_points(x)
    assert names == ["embed", "layers.0.attn.out", "layers.0.mlp.out", "layers.0.resid",
                     "layers.1.attn.out", "layers.1.mlp.out", "layers.1.resid", "resid.final", "pooled", "out"]
    out, cache = jax.jit(lambda s: lens.run_with_cache(s, names))(x)
    assert {n: cache[n].shape for n in ("embed", "layers.1.resid", "pooled", "out")} == \
        {"embed": (3, 4, 6), "layers.1.resid": (3, 4, 6), "pooled": (3, 6), "out": (3,)}
    np.testing.assert_allclose(cache["pooled"], cache["resid.final"].mean(1), atol=1e-12)
    np.testing.assert_allclose(cache["layers.1.resid"], cache["layers.0.resid"] + cache["layers.1.attn.out"]
                               + cache["layers.1.mlp.out"], atol=1e-12)
    np.testing.assert_allclose(out, cache["out"])


def test_relative_positions_make_shifts_by_a_patch_a_symmetry():
    rng = np.random.default_rng(1)
    sigma = rng.choice([-1.0, 1.0], size=(4, 16))
    shifted = sigma.reshape(4, 4, 4)[:, np.roll(np.arange(4), 2)].reshape(4, 16)
    rel = Transformer(lattice_shape=(4, 4), patch_size=2, d_model=8, pos_encoding="relative")
    v = randomised(rel, 16)
    np.testing.assert_allclose(*jax.jit(rel.apply)(v, np.stack([shifted, sigma])), rtol=1e-12)
    learned = Transformer(lattice_shape=(4, 4), patch_size=2, d_model=8, pos_encoding="learned")
    w = randomised(learned, 16)
    moved, fixed = jax.jit(learned.apply)(w, np.stack([shifted, sigma]))
    assert np.abs(moved - fixed).max() > 1e-3


def test_works_in_a_netket_state_and_both_evaluators():
    ring = HeisenbergRing(8)
    model = build_model("transformer", lattice_shape=(8,), patch_size=2, d_model=8, n_heads=2)
    v = randomised(model, 8, scale=0.2)
    sigma_SN = np.asarray(ring.hilbert.all_states())
    fs = nk.vqs.FullSumState(ring.hilbert, model, variables=v)
    h_sparse = ring.hamiltonian.to_sparse()
    ev = ExactEvaluator(LensLogPsi(Lens(model, v)), sigma_SN, h_sparse, unit="J")
    result = ev.evaluate([Identity("pooled"), Scale("pooled", (0, 3), 0.5)])
    np.testing.assert_allclose(result.energies_K[0], fs.expect(ring.hamiltonian).mean.real, atol=1e-10)
    assert abs(result.energies_K[1] - result.energies_K[0]) > 1e-6

    def local_energy(log_psi_fn, samples_SN):
        conn, mels = ring.hamiltonian.get_conn_padded(np.asarray(samples_SN))
        return (mels * jnp.exp(log_psi_fn(conn) - log_psi_fn(samples_SN)[:, None])).sum(-1)

    sampled = SampledEvaluator(LensLogPsi(Lens(model, v)), sigma_SN, local_energy, unit="J")
    apply = jax.jit(model.apply)
    uniform_mean = np.mean(local_energy_per_config(ring, lambda s: apply(v, s), sigma_SN))
    np.testing.assert_allclose(sampled.evaluate([Identity("pooled")]).energies_K[0], uniform_mean, rtol=1e-10)


def test_build_model_validates_transformer_options():
    with pytest.raises(PhyslensError, match="unknown pos_encoding"):
        build_model("transformer", pos_encoding="rotary")
    with pytest.raises(PhyslensError, match="multiple of n_heads"):
        build_model("transformer", d_model=10, n_heads=3)
    with pytest.raises(PhyslensError, match="divide every lattice side"):
        build_model("transformer", lattice_shape=(6, 6), patch_size=4)
    model = Transformer(lattice_shape=(4, 4))
    with pytest.raises(PhyslensError, match="has 16 sites; the input has 8"):
        model.init(jax.random.PRNGKey(0), jnp.ones((1, 8)))
