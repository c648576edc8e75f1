"""Pruning: exact counts against NumPy references, rewinding, and masked VMC + SR training."""

import math

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from physlens.errors import PhyslensError
from physlens.lens.hooks import list_hook_points
from physlens.lens.mask import Mask, stack_masks
from physlens.lens.pruning import (Masked, masked_optimizer, masked_variables, prune_global, prune_layerwise,
                                   prune_random, random_mask_like, rewind)
from physlens.quantum.models import FFNN
from physlens.quantum.systems import TFIMChain


def tied_params(seed=0):
    """Weights drawn from a few values of both signs, so |θ| has many ties."""
    rng = np.random.default_rng(seed)
    return {"a": {"kernel": jnp.asarray(rng.integers(-3, 4, size=(5, 4)) * 0.5), "bias": jnp.zeros(4)},
            "b": {"kernel": jnp.asarray(rng.integers(-3, 4, size=(4, 3)) * 0.5), "bias": jnp.zeros(3)}}


def reference_prune(params, mask, fraction, paths):
    """Pruned (path, flat index) set: a plain Python sort of (|θ|, leaf order, C index) over ``paths``."""
    values = dict(zip(mask.paths, jax.tree_util.tree_leaves(params)))
    entries = []
    for order, (path, keep) in enumerate(mask.leaves().items()):
        if path in paths:
            mags = np.abs(np.asarray(values[path])).ravel()
            entries += [(mags[i], order, i, path) for i in range(mags.size) if keep.ravel()[i]]
    n = math.floor(round(fraction * 100) * len(entries) / 100)
    return {(path, i) for _, _, i, path in sorted(entries)[:n]}


def pruned_set(before, after):
    return {(p, i) for p in before.prunable
            for i in np.flatnonzero(before.leaves()[p].ravel() & ~after.leaves()[p].ravel())}


@pytest.mark.parametrize("fraction", [0.0, 0.13, 0.29, 0.5, 0.8, 1.0])
def test_global_magnitude_prunes_exact_count_with_deterministic_ties(fraction):
    params = tied_params()
    mask = prune_random(Mask.ones_like(params), 0.25, seed=3)
    pruned = prune_global(params, mask, fraction)
    assert pruned_set(mask, pruned) == reference_prune(params, mask, fraction, mask.prunable)
    assert mask.kept - pruned.kept == math.floor(round(fraction * 100) * mask.kept / 100)
    assert not pruned_set(pruned, mask)
    assert pruned.leaves()["a/bias"].all()


def test_count_uses_decimal_fraction():
    params = {"w": {"kernel": jnp.arange(1.0, 101.0)}}
    assert prune_global(params, Mask.ones_like(params), 0.29).kept == 71
    assert prune_layerwise(params, Mask.ones_like(params), 0.29).kept == 71


def test_layerwise_magnitude_prunes_fraction_of_each_leaf():
    params = tied_params(1)
    mask = prune_random(Mask.ones_like(params), 0.3, seed=0)
    pruned = prune_layerwise(params, mask, 0.4)
    for path in ("a/kernel", "b/kernel"):
        want = reference_prune(params, mask, 0.4, {path})
        assert {(p, i) for p, i in pruned_set(mask, pruned) if p == path} == want
        assert mask.leaves()[path].sum() - pruned.leaves()[path].sum() == math.floor(0.4 * mask.leaves()[path].sum())


def test_random_pruning_exact_count_and_seed_reproducible():
    params = tied_params()
    mask = prune_global(params, Mask.ones_like(params), 0.5)
    first = prune_random(mask, 0.3, seed=7)
    assert mask.kept - first.kept == math.floor(0.3 * mask.kept)
    assert prune_random(mask, 0.3, seed=7) == first
    assert prune_random(mask, 0.3, seed=8) != first
    assert not pruned_set(first, mask)
    assert first.leaves()["b/bias"].all()


def test_random_mask_like_matches_per_layer_density():
    params = tied_params()
    mask = prune_layerwise(params, Mask.ones_like(params), 0.6)
    control = random_mask_like(mask, seed=2)
    pd_mask, pd_control = mask.to_frame(), control.to_frame()
    assert pd_control["kept"].tolist() == pd_mask["kept"].tolist()
    assert pd_control["density"].tolist() == pd_mask["density"].tolist()
    assert control != mask
    assert random_mask_like(mask, seed=2) == control


def test_rewind_restores_init_on_survivors_and_zeroes_pruned():
    init, trained = tied_params(0), tied_params(1)
    mask = prune_global(trained, Mask.ones_like(trained), 0.5)
    ticket = rewind(trained, init, mask)
    for path, keep in mask.leaves().items():
        got = np.asarray(dict(zip(mask.paths, jax.tree_util.tree_leaves(ticket)))[path])
        want = np.asarray(dict(zip(mask.paths, jax.tree_util.tree_leaves(init)))[path])
        np.testing.assert_array_equal(got[keep], want[keep])
        assert np.all(got[~keep] == 0)
    with pytest.raises(PhyslensError, match="params_init has leaves"):
        rewind(trained, {"a": init["a"]}, mask)


@pytest.mark.parametrize("call, fragment", [
    (lambda m, p: prune_global(p, m, 1.5), "fraction must be in"),
    (lambda m, p: prune_layerwise(p, m, -0.1), "fraction must be in"),
    (lambda m, p: prune_random(m, 0.5, seed=-1), "seed must be"),
    (lambda m, p: random_mask_like(m, seed=1.5), "seed must be"),
    (lambda m, p: prune_global({**p, "a": {**p["a"], "kernel": p["a"]["kernel"] * jnp.nan}}, m, 0.1), "NaN"),
])
def test_bad_pruning_input_raises(call, fragment):
    params = tied_params()
    with pytest.raises(PhyslensError, match=fragment):
        call(Mask.ones_like(params), params)


# --- masked training through NetKet VMC with SR -------------------------------------------------

SYSTEM = TFIMChain(6)
MODEL = FFNN(widths=(8,))
DIAG_SHIFT = 0.01


def start(seed=0):
    """Dense θ_0 of the FFNN and a 50% random mask over its kernel."""
    params = nk.vqs.FullSumState(SYSTEM.hilbert, MODEL, seed=seed).parameters
    return params, prune_random(Mask.ones_like(params), 0.5, seed=seed)


def driver(vstate, opt, solver=jax.scipy.sparse.linalg.cg):
    return nk.driver.VMC(SYSTEM.hamiltonian, opt, variational_state=vstate,
                         preconditioner=nk.optimizer.SR(diag_shift=DIAG_SHIFT, solver=solver))


def assert_pruned_zero_and_survivors_moved(mask, before, after):
    moved = 0
    for (path, keep), b, a in zip(mask.leaves().items(), jax.tree_util.tree_leaves(before), jax.tree_util.tree_leaves(after)):
        a, b = np.asarray(a), np.asarray(b)
        assert np.all(a[~keep] == 0), path
        moved += np.count_nonzero(a[keep] != b[keep])
    assert moved == sum(k.size for k in mask.leaves().values()) - (mask.size - mask.kept)


def energy(vstate):
    return float(vstate.expect(SYSTEM.hamiltonian).mean.real)


def test_masked_wrapper_keeps_pruned_weights_zero_through_200_sr_steps():
    params, mask = start()
    vs = nk.vqs.FullSumState(SYSTEM.hilbert, Masked(MODEL), variables=masked_variables(params, mask))
    assert list_hook_points(vs.model, vs.variables, jnp.ones((2, 6))) == ["layers.0.pre", "layers.0.post", "out"]
    e_start = energy(vs)
    driver(vs, optax.sgd(0.05)).run(200, show_progress=False)
    assert_pruned_zero_and_survivors_moved(mask, mask.apply(params), vs.parameters)
    dense = nk.vqs.FullSumState(SYSTEM.hilbert, MODEL, variables={"params": vs.parameters})
    assert energy(dense) == pytest.approx(energy(vs), abs=1e-12)
    assert energy(vs) < e_start - 0.5


def test_masked_optimizer_keeps_pruned_weights_zero_through_200_sr_steps():
    params, mask = start()
    vs = nk.vqs.FullSumState(SYSTEM.hilbert, MODEL, variables={"params": mask.apply(params)})
    e_start = energy(vs)
    driver(vs, masked_optimizer(optax.adam(0.01), mask)).run(200, show_progress=False)
    assert_pruned_zero_and_survivors_moved(mask, mask.apply(params), vs.parameters)
    assert energy(vs) < e_start - 0.5


def test_sr_step_of_masked_wrapper_is_the_sparse_natural_gradient():
    """NumPy reference: (S_uu + εI)⁻¹ ∇_u E over the survivors u, by exact sums over all 2^6 states."""
    params, mask = start()
    vs = nk.vqs.FullSumState(SYSTEM.hilbert, Masked(MODEL), variables=masked_variables(params, mask))
    _, dp = driver(vs, optax.sgd(0.05), solver=nk.optimizer.solver.cholesky).compute_loss_and_update()
    flat0, unravel = ravel_pytree(mask.apply(params))
    keep = np.asarray(ravel_pytree(mask.to_tree())[0]).astype(bool)
    states_SN = np.asarray(SYSTEM.hilbert.all_states())
    log_psi = lambda flat: MODEL.apply({"params": unravel(flat)}, states_SN)  # noqa: E731
    log_psi_S, jac_SP = np.asarray(log_psi(flat0)), np.asarray(jax.jacfwd(log_psi)(flat0))
    psi_S = np.exp(log_psi_S - log_psi_S.max())
    prob_S = psi_S**2 / np.sum(psi_S**2)
    e_loc_S = (SYSTEM.hamiltonian.to_sparse() @ psi_S) / psi_S
    centred_SP = jac_SP - prob_S @ jac_SP
    grad_P = 2 * centred_SP.T @ (prob_S * (e_loc_S - prob_S @ e_loc_S))
    qgt_PP = centred_SP.T @ (prob_S[:, None] * centred_SP)
    want_U = np.linalg.solve(qgt_PP[np.ix_(keep, keep)] + DIAG_SHIFT * np.eye(keep.sum()), grad_P[keep])
    dp_P = np.asarray(ravel_pytree(dp)[0])
    np.testing.assert_allclose(dp_P[keep], want_U, rtol=1e-8, atol=1e-10)
    assert np.all(dp_P[~keep] == 0)

    dense = nk.vqs.FullSumState(SYSTEM.hilbert, MODEL, variables={"params": mask.apply(params)})
    dense_driver = driver(dense, optax.sgd(0.05), solver=nk.optimizer.solver.cholesky)
    _, dense_dp = dense_driver.compute_loss_and_update()
    dense_dp_P = np.asarray(ravel_pytree(dense_dp)[0])
    assert np.min(np.abs(dense_dp_P[~keep])) > 0
    assert not np.allclose(dense_dp_P[keep], want_U, rtol=1e-3)
    _, dense_grad = dense.expect_and_grad(SYSTEM.hamiltonian)
    masked_first = dense_driver.preconditioner(dense, mask.apply(dense_grad))
    assert np.max(np.abs(np.asarray(ravel_pytree(masked_first)[0])[~keep])) > 1e-6


def test_stacked_masks_vmap_the_masked_forward_pass():
    params, mask = start()
    masks = [mask, random_mask_like(mask, seed=1), prune_random(mask, 0.5, seed=2)]
    states_SN = jnp.asarray(SYSTEM.hilbert.all_states())
    batched_KS = jax.vmap(lambda m: Masked(MODEL).apply({"params": params, "mask": m}, states_SN))(stack_masks(masks))
    for k, m in enumerate(masks):
        np.testing.assert_array_equal(batched_KS[k], MODEL.apply({"params": m.apply(params)}, states_SN))


def test_masked_wrapper_needs_a_mask_collection():
    params, _ = start()
    with pytest.raises(PhyslensError, match="without a 'mask' collection"):
        Masked(MODEL).apply({"params": params}, jnp.ones((1, 6)))
    init = Masked(MODEL).init(jax.random.PRNGKey(0), jnp.ones((1, 6)))
    assert jax.tree_util.tree_structure(init["mask"]) == jax.tree_util.tree_structure(init["params"])
    assert all(np.all(np.asarray(leaf) == 1) for leaf in jax.tree_util.tree_leaves(init["mask"]))


def test_nearest_rounding_is_numpy_rint():
    mask = Mask.ones_like({"layers.0": {"kernel": np.zeros((16, 128))}})
    params = {"layers.0": {"kernel": np.random.default_rng(0).normal(size=(16, 128))}}
    assert mask.kept - prune_global(params, mask, 0.12, rounding="nearest").kept == 246 == int(np.rint(0.12 * 2048))
    assert mask.kept - prune_global(params, mask, 0.12).kept == 245
    small = Mask.ones_like({"layers.0": {"kernel": np.zeros((2, 5))}})
    small_params = {"layers.0": {"kernel": np.arange(1.0, 11.0).reshape(2, 5)}}
    assert small.kept - prune_layerwise(small_params, small, 0.25, rounding="nearest").kept == 2   # 2.5 → 2 (even)
    assert small.kept - prune_random(small, 0.35, seed=0, rounding="nearest").kept == 4             # 3.5 → 4 (even)
    with pytest.raises(PhyslensError, match="rounding"):
        prune_global(params, mask, 0.12, rounding="up")
