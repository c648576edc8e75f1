import jax
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.hooks import Lens
from physlens.lens.interventions import (
    AddDirection, Ablate, Clamp, HookEdit, Identity, KeepOnly, LensLogPsi, Scale, mean_ablation,
    single_unit_ablations, single_unit_retentions, stack,
)
from physlens.quantum.models import RBM

HOOK = "hidden.post"


@pytest.fixture(scope="module")
def ring_rbm():
    sigma_SN = np.random.default_rng(0).choice([-1.0, 1.0], size=(64, 8))
    model = RBM(alpha=2)
    variables = model.init(jax.random.PRNGKey(0), sigma_SN[:1])
    leaves, tree = jax.tree.flatten(variables)
    keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
    variables = jax.tree.unflatten(tree, [0.3 * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])
    return model, variables, sigma_SN


def test_each_kind_as_scale_and_shift():
    edit = Ablate(HOOK, (1, 3), value=(0.5, -2.0)).edit(5)
    np.testing.assert_array_equal(edit.scale, [1, 0, 1, 0, 1])
    np.testing.assert_array_equal(edit.shift, [0, 0.5, 0, -2.0, 0])
    np.testing.assert_array_equal(KeepOnly(HOOK, (2,)).edit(4).scale, [0, 0, 1, 0])
    np.testing.assert_array_equal(Scale(HOOK, 0, 3.0).edit(3).scale, [3, 1, 1])
    clamp = Clamp(HOOK, (0, 2), 7.0).edit(3)
    np.testing.assert_array_equal(clamp.scale, [0, 1, 0])
    np.testing.assert_array_equal(clamp.shift, [7, 0, 7])
    steer = AddDirection(HOOK, np.array([1.0, -1.0, 2.0]), alpha=0.5).edit(3)
    np.testing.assert_array_equal(steer.scale, [1, 1, 1])
    np.testing.assert_array_equal(steer.shift, [0.5, -0.5, 1.0])
    acts = np.arange(3.0)
    np.testing.assert_array_equal(Identity(HOOK).edit(3)(acts), acts)
    np.testing.assert_array_equal(clamp(acts), [7, 1, 7])


def test_single_unit_helpers_stack_to_identity_complements():
    ablate = stack(single_unit_ablations(HOOK, 6), 6)
    keep = stack(single_unit_retentions(HOOK, 6), 6)
    np.testing.assert_array_equal(ablate.scale, 1 - np.eye(6))
    np.testing.assert_array_equal(keep.scale, np.eye(6))
    np.testing.assert_array_equal(ablate.shift, np.zeros((6, 6)))
    assert ablate.hook == HOOK
    mixed = stack([Identity(HOOK), Scale(HOOK, 1, 2.0), Clamp(HOOK, 0, 1.0)], 2)
    np.testing.assert_array_equal(mixed.scale, [[1, 1], [1, 2], [0, 1]])


def test_mean_ablation_uses_weighted_mean():
    acts_BD = np.array([[1.0, 2.0, 3.0], [3.0, 6.0, 9.0]])
    ablation = mean_ablation(HOOK, (0, 2), acts_BD, weights_B=np.array([3.0, 1.0]))
    assert ablation.value == pytest.approx((1.5, 4.5))
    assert mean_ablation(HOOK, 1, acts_BD).value == pytest.approx((4.0,))


def test_ablating_a_unit_through_hooks_equals_the_hidden_mask(ring_rbm):
    model, variables, sigma_SN = ring_rbm
    log_psi = LensLogPsi(Lens(model, variables))
    n_units = log_psi.width(HOOK, sigma_SN[:1])
    assert n_units == 16
    edits = stack(single_unit_ablations(HOOK, n_units), n_units)
    ablated_KS = jax.jit(jax.vmap(lambda lp, e: lp(sigma_SN, e), in_axes=(None, 0)))(log_psi, edits)
    for j in range(n_units):
        mask = tuple(i != j for i in range(n_units))
        masked_S = RBM(alpha=2, hidden_mask=mask).apply(variables, sigma_SN)
        np.testing.assert_allclose(ablated_KS[j], masked_S, rtol=0, atol=1e-12)


def test_keep_only_and_identity_through_hooks(ring_rbm):
    model, variables, sigma_SN = ring_rbm
    log_psi = LensLogPsi(Lens(model, variables))
    np.testing.assert_allclose(log_psi(sigma_SN, Identity(HOOK).edit(16)), model.apply(variables, sigma_SN), atol=1e-14)
    kept = (2, 5)
    mask = tuple(i in kept for i in range(16))
    np.testing.assert_allclose(log_psi(sigma_SN, KeepOnly(HOOK, kept).edit(16)),
                               RBM(alpha=2, hidden_mask=mask).apply(variables, sigma_SN), atol=1e-12)


def test_bad_interventions_raise():
    with pytest.raises(PhyslensError, match="out of range"):
        Ablate(HOOK, 9).edit(4)
    with pytest.raises(PhyslensError, match="single hook"):
        stack([Identity(HOOK), Identity("hidden.pre")], 4)
    with pytest.raises(PhyslensError, match="direction has length"):
        AddDirection(HOOK, (1.0, 2.0)).edit(3)
    with pytest.raises(PhyslensError, match="one per unit"):
        Clamp(HOOK, (0, 1), (1.0, 2.0, 3.0))
    with pytest.raises(PhyslensError, match="no interventions"):
        stack([], 3)


def test_unknown_hook_raises(ring_rbm):
    model, variables, sigma_SN = ring_rbm
    with pytest.raises(PhyslensError, match="unknown hook point"):
        LensLogPsi(Lens(model, variables))(sigma_SN, HookEdit("nope", np.ones(16), np.zeros(16)))
