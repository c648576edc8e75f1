"""Mask: validation, density report, apply, equality, save/load, stacking for vmap."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.mask import Mask, is_weight, leaf_paths, stack_masks, unstack_masks


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"layers.0": {"kernel": jnp.asarray(rng.normal(size=(6, 8))), "bias": jnp.asarray(rng.normal(size=8))},
            "layers.1": {"kernel": jnp.asarray(rng.normal(size=(8, 3))), "bias": jnp.asarray(rng.normal(size=3))},
            "visible_bias": jnp.asarray(rng.normal(size=6))}


def sparse_mask(params, seed=0):
    rng = np.random.default_rng(seed)
    mask = Mask.ones_like(params)
    return mask.replace({p: rng.random(k.shape) < 0.5 for p, k in mask.leaves().items() if p in mask.prunable})


def test_ones_like_makes_kernels_prunable_and_keeps_biases():
    mask = Mask.ones_like(make_params())
    assert mask.paths == ("layers.0/bias", "layers.0/kernel", "layers.1/bias", "layers.1/kernel", "visible_bias")
    assert mask.prunable == frozenset({"layers.0/kernel", "layers.1/kernel"})
    assert mask.size == 6 * 8 + 8 * 3 and mask.kept == mask.size and mask.density == 1.0
    assert [is_weight(p) for p in ("a/kernel", "w/weight", "layers.0/bias", "kernel_scale")] == [True, True, False, False]


def test_prunable_predicate_on_leaf_path():
    mask = Mask.ones_like(make_params(), prunable=lambda path: path.startswith("layers.1/"))
    assert mask.prunable == frozenset({"layers.1/bias", "layers.1/kernel"})
    assert Mask.ones_like(make_params(), prunable=["visible_bias"]).size == 6


def test_density_and_frame_count_kept_weights():
    params = make_params()
    mask = sparse_mask(params)
    leaves = mask.leaves()
    kept0, kept1 = int(leaves["layers.0/kernel"].sum()), int(leaves["layers.1/kernel"].sum())
    assert mask.kept == kept0 + kept1
    assert mask.density == pytest.approx((kept0 + kept1) / 72, abs=0)
    frame = mask.to_frame().set_index("path")
    assert list(frame.columns) == ["prunable", "size", "kept", "density"]
    assert frame.loc["layers.0/kernel", "kept"] == kept0 and frame.loc["layers.0/kernel", "size"] == 48
    assert frame.loc["layers.1/kernel", "density"] == pytest.approx(kept1 / 24, abs=0)
    assert frame.loc["layers.0/bias", "density"] == 1.0 and not frame.loc["layers.0/bias", "prunable"]


def test_apply_zeroes_pruned_entries_exactly_and_keeps_survivors():
    params = make_params()
    mask = sparse_mask(params)
    out = jax.jit(mask.apply)(params)
    for (path, keep), p, o in zip(mask.leaves().items(), jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(out)):
        o = np.asarray(o)
        assert o.dtype == np.float64
        np.testing.assert_array_equal(o[keep], np.asarray(p)[keep])
        assert np.all(o[~keep] == 0) and not np.any(np.signbit(o[~keep])), path


def test_float_int_and_bool_leaves_are_accepted_and_stored_as_bool():
    tree = {"w": {"kernel": np.array([[1.0, 0.0]])}, "b": {"kernel": np.array([1, 0, 1])}, "c": {"kernel": np.array([True])}}
    mask = Mask(tree)
    assert all(k.dtype == bool and not k.flags.writeable for k in mask.leaves().values())
    assert mask.kept == 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        mask.tree = tree


@pytest.mark.parametrize("tree, prunable, fragment", [
    ({"w": {"kernel": np.array([0.5, 1.0])}}, None, "values other than 0 and 1"),
    ({"w": {"kernel": np.array([2, 1])}}, None, "values other than 0 and 1"),
    ({"w": {"kernel": np.array([np.nan, 1.0])}}, None, "values other than 0 and 1"),
    ({"w": {"kernel": np.array(["1", "0"])}}, None, "dtype"),
    ({"w": {"kernel": np.ones(2), "bias": np.array([1.0, 0.0])}}, None, "not prunable but prunes"),
    ({"w": {"kernel": np.ones(2)}}, ["w/nope"], "not leaves of the mask"),
    ({"w": {"bias": np.ones(2)}}, None, "no prunable weights"),
    ({}, None, "no leaves"),
    ({"a/b": {"kernel": np.ones(2)}}, None, "contains '/'"),
])
def test_invalid_masks_raise_one_line_errors(tree, prunable, fragment):
    with pytest.raises(PhyslensError, match=fragment) as info:
        Mask(tree) if prunable is None else Mask(tree, prunable)
    assert "\n" not in str(info.value)


def test_apply_checks_structure_and_shapes():
    params = make_params()
    mask = Mask.ones_like(params)
    with pytest.raises(PhyslensError, match="has leaves"):
        mask.apply({k: v for k, v in params.items() if k != "visible_bias"})
    with pytest.raises(PhyslensError, match="has shape"):
        mask.apply({**params, "visible_bias": jnp.zeros(7)})
    with pytest.raises(PhyslensError, match="has shape"):
        mask.replace({"layers.0/kernel": np.ones((8, 6))})
    with pytest.raises(PhyslensError, match="not leaves"):
        mask.replace({"layers.2/kernel": np.ones((8, 6))})


def test_equality_compares_values_and_prunable_leaves():
    params = make_params()
    assert sparse_mask(params, 0) == sparse_mask(params, 0)
    assert sparse_mask(params, 0) != sparse_mask(params, 1)
    assert Mask.ones_like(params) != Mask.ones_like(params, prunable=lambda p: True)
    assert Mask.ones_like(params) != "mask"


def test_save_load_round_trip_is_atomic_npz_keyed_by_path(tmp_path):
    params = make_params()
    mask = sparse_mask(params)
    file = tmp_path / "ticket.npz"
    mask.save(file)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ticket.npz"]
    with np.load(file) as npz:
        np.testing.assert_array_equal(npz["layers.0/kernel"], mask.leaves()["layers.0/kernel"])
    assert Mask.load(file) == mask
    assert Mask.load(file, like=params) == mask
    assert Mask.load(file, like=mask) == mask


def test_load_rejects_missing_corrupt_and_mismatched_files(tmp_path):
    with pytest.raises(PhyslensError, match="does not exist"):
        Mask.load(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(PhyslensError, match="not a physlens mask file"):
        Mask.load(tmp_path / "bad.npz")
    Mask.ones_like(make_params()).save(tmp_path / "m.npz")
    with pytest.raises(PhyslensError, match="like has"):
        Mask.load(tmp_path / "m.npz", like={"w": {"kernel": np.ones(2)}})


def test_stack_feeds_vmap_and_unstack_round_trips():
    params = make_params()
    masks = [sparse_mask(params, seed) for seed in range(3)]
    stacked = stack_masks(masks)
    assert leaf_paths(stacked) == list(masks[0].paths)
    assert stacked["layers.0"]["kernel"].shape == (3, 6, 8)
    batched = jax.vmap(lambda m: jax.tree_util.tree_map(lambda p, k: p * k, params, m))(stacked)
    for i, mask in enumerate(masks):
        for got, want in zip(jax.tree_util.tree_leaves(batched), jax.tree_util.tree_leaves(mask.apply(params))):
            np.testing.assert_array_equal(got[i], want)
    assert unstack_masks(stacked, masks[0]) == masks


def test_stack_rejects_masks_of_different_models():
    params = make_params()
    other = Mask.ones_like({"w": {"kernel": np.ones(3)}})
    with pytest.raises(PhyslensError, match="masks of one model"):
        stack_masks([Mask.ones_like(params), other])
    with pytest.raises(PhyslensError, match="no masks"):
        stack_masks([])
    with pytest.raises(PhyslensError, match="template has"):
        unstack_masks(stack_masks([other]), Mask.ones_like(params))
