"""The nuclear regressor: hook points, and the forward pass against a NumPy reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.hooks import Lens, list_hook_points
from physlens.nuclear.model import NuclearModel, UniformAttentionBlock, hook_point_names

D, L = 5, 2


@pytest.fixture(scope="module")
def setup():
    model = NuclearModel(n_z=12, n_n=15, tasks=("B", "S_n", "Q_alpha"), width=D, depth=L, mlp_ratio=2,
                         target_shift=(8.0, 10.0, -2.0), target_scale=(0.5, 3.0, 4.0))
    x_B3 = jnp.array([[8, 8, 0], [11, 14, 1], [3, 0, 2], [8, 9, 0]])
    variables = model.init(jax.random.PRNGKey(1), x_B3)
    return model, variables, x_B3


def silu(x):
    return x / (1.0 + np.exp(-x))


def block_reference(p, h_BTD):
    """One block by hand: uniform attention through W_OV, then the per-token SiLU MLP."""
    attn_BD = h_BTD.mean(axis=1) @ p["attn_ov"]["kernel"] + p["attn_ov"]["bias"]
    h_BTD = h_BTD + attn_BD[:, None, :]
    pre_BTM = h_BTD @ p["mlp_in"]["kernel"] + p["mlp_in"]["bias"]
    return h_BTD + silu(pre_BTM) @ p["mlp_out"]["kernel"] + p["mlp_out"]["bias"]


def numpy_params(variables):
    return jax.tree_util.tree_map(np.asarray, variables["params"])


def test_hook_points_are_named_and_in_call_order(setup):
    model, variables, x_B3 = setup
    assert list_hook_points(model, variables, x_B3) == hook_point_names(L)
    assert hook_point_names(1) == ["embed.Z", "embed.N", "embed.task", "blocks.0.attn.out", "blocks.0.mlp.out",
                                   "blocks.0.resid", "penultimate"]


def test_hook_points_capture_the_right_shapes_and_values(setup):
    model, variables, x_B3 = setup
    out_B, cache = Lens(model, variables).run_with_cache(x_B3, hook_point_names(L))
    B = x_B3.shape[0]
    assert out_B.shape == (B,)
    for name, act in cache.items():
        expected = (B, D) if name.startswith("embed") or name == "penultimate" else (B, 3, D)
        assert act.shape == expected, name
    p = numpy_params(variables)
    x = np.asarray(x_B3)
    np.testing.assert_array_equal(cache["embed.Z"], p["embed_Z"]["embedding"][x[:, 0]])
    np.testing.assert_array_equal(cache["embed.N"], p["embed_N"]["embedding"][x[:, 1]])
    np.testing.assert_array_equal(cache["embed.task"], p["embed_task"]["embedding"][x[:, 2]])
    attn = np.asarray(cache["blocks.0.attn.out"])
    np.testing.assert_allclose(attn, np.broadcast_to(attn[:, :1], attn.shape), rtol=0, atol=0)
    last_BTD = np.asarray(cache[f"blocks.{L - 1}.resid"])
    np.testing.assert_allclose(cache["penultimate"], last_BTD.mean(axis=1), atol=1e-14)


def test_uniform_attention_block_equals_hand_computation():
    block = UniformAttentionBlock(hidden=7)
    h_BTD = jax.random.normal(jax.random.PRNGKey(3), (6, 3, 4))
    variables = block.init(jax.random.PRNGKey(4), h_BTD)
    expected = block_reference(numpy_params(variables), np.asarray(h_BTD))
    np.testing.assert_allclose(block.apply(variables, h_BTD), expected, rtol=1e-12, atol=1e-12)


def test_forward_equals_numpy_reference(setup):
    model, variables, x_B3 = setup
    p, x = numpy_params(variables), np.asarray(x_B3)
    h_BTD = np.stack([p["embed_Z"]["embedding"][x[:, 0]], p["embed_N"]["embedding"][x[:, 1]],
                      p["embed_task"]["embedding"][x[:, 2]]], axis=1)
    for i in range(L):
        h_BTD = block_reference(p[f"blocks.{i}"], h_BTD)
    out_BK = h_BTD.mean(axis=1) @ p["readout"]["kernel"] + p["readout"]["bias"]
    value_B = out_BK[np.arange(len(x)), x[:, 2]]
    expected = value_B * np.array(model.target_scale)[x[:, 2]] + np.array(model.target_shift)[x[:, 2]]
    np.testing.assert_allclose(model.apply(variables, x_B3), expected, rtol=1e-12, atol=1e-12)


def test_ablating_the_penultimate_leaves_the_readout_bias(setup):
    model, variables, x_B3 = setup
    out_B = Lens(model, variables).run_with_hooks(x_B3, {"penultimate": jnp.zeros_like})
    task = np.asarray(x_B3)[:, 2]
    bias_K = np.asarray(variables["params"]["readout"]["bias"])
    expected = bias_K[task] * np.array(model.target_scale)[task] + np.array(model.target_shift)[task]
    np.testing.assert_allclose(out_B, expected, rtol=1e-12)


def test_without_standardisation_the_output_is_the_readout(setup):
    model, variables, x_B3 = setup
    plain = model.clone(target_shift=None, target_scale=None)
    shift_B = np.array(model.target_shift)[np.asarray(x_B3)[:, 2]]
    scale_B = np.array(model.target_scale)[np.asarray(x_B3)[:, 2]]
    rescaled_B = plain.apply(variables, x_B3) * scale_B + shift_B
    np.testing.assert_allclose(rescaled_B, model.apply(variables, x_B3), rtol=1e-12)


@pytest.mark.parametrize("kwargs,x,match", [
    ({}, jnp.array([[1, 2]]), "shape"),
    ({"target_shift": (0.0,)}, jnp.array([[1, 2, 0]]), "target_shift has 1 entries"),
    ({"width": 0}, jnp.array([[1, 2, 0]]), "width must be >= 1"),
])
def test_bad_model_input_is_a_one_line_error(kwargs, x, match):
    model = NuclearModel(n_z=4, n_n=4, tasks=("B", "S_n"), **kwargs)
    with pytest.raises(PhyslensError, match=match) as info:
        model.init(jax.random.PRNGKey(0), x)
    assert "\n" not in str(info.value)
