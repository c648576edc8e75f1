"""Masked training through NetKet's driver: pruned weights stay 0, energies are exact, runs repeat, snapshots fit."""

import jax
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.mask import Mask
from physlens.lens.pruning import prune_global
from physlens.quantum.masked_training import ExactProblem, content_seed, init_params, make_energy_and_grad
from physlens.quantum.models import FFNN
from physlens.quantum.systems import TFIMChain
from physlens.quantum.vmc_masked_training import VMCSettings, train_masked_vmc

SYSTEM = TFIMChain(6, h=1.0)
MODEL = FFNN(widths=(12,), activation="relu", use_bias=False, kernel_std=0.1)
PROBLEM = ExactProblem.of(SYSTEM)
ENERGY = make_energy_and_grad(MODEL, PROBLEM, batching="map")


def starts():
    stacked = init_params(MODEL, 6, [0, 1])
    params = [jax.tree_util.tree_map(lambda leaf: np.asarray(leaf[k]), stacked) for k in range(2)]
    masks = [prune_global(p, Mask.ones_like(p), 0.5) for p in params]
    return params, masks


def full_sum_energy(params):
    return SYSTEM.energy_of(MODEL.apply({"params": params}, SYSTEM.hilbert.all_states()))


@pytest.mark.parametrize("settings", [VMCSettings(mode="sampled", samples=256, learning_rate=0.02),
                                      VMCSettings(mode="exact", learning_rate=0.02),
                                      VMCSettings(optimizer="adam", mode="exact", learning_rate=0.01)])
def test_pruned_weights_stay_zero_and_energies_are_exact(settings):
    params, masks = starts()
    result = train_masked_vmc(MODEL, SYSTEM, PROBLEM, params, masks, steps=30, settings=settings, energy_and_grad=ENERGY)
    assert result.history_TK.shape == (30, 2)
    for k, mask in enumerate(masks):
        trained = jax.tree_util.tree_map(lambda leaf: leaf[k], result.params_K)
        kernel, keep = trained["layers.0"]["kernel"], mask.leaves()["layers.0/kernel"]
        assert np.all(kernel[~keep] == 0) and np.all(kernel[keep] != params[k]["layers.0"]["kernel"][keep])
        assert result.energy_K[k] == pytest.approx(full_sum_energy(trained), abs=1e-10)
        assert result.energy_K[k] < full_sum_energy(mask.apply(params[k]))
    np.testing.assert_allclose(result.rel_error_K, np.abs(result.energy_K - PROBLEM.e0) / abs(PROBLEM.e0))


def test_the_same_inputs_draw_the_same_samples():
    params, masks = starts()
    settings = VMCSettings(samples=128, learning_rate=0.02)
    runs = [train_masked_vmc(MODEL, SYSTEM, PROBLEM, params, masks, steps=10, settings=settings, energy_and_grad=ENERGY)
            for _ in range(2)]
    np.testing.assert_array_equal(runs[0].energy_K, runs[1].energy_K)
    assert content_seed(params[0], masks[0]) != content_seed(params[1], masks[1])


def test_snapshot_is_the_state_after_that_many_steps():
    params, masks = starts()
    settings = VMCSettings(mode="exact", learning_rate=0.02)
    long = train_masked_vmc(MODEL, SYSTEM, PROBLEM, params, masks, steps=12, settings=settings, energy_and_grad=ENERGY,
                            snapshot_step=5)
    short = train_masked_vmc(MODEL, SYSTEM, PROBLEM, params, masks, steps=5, settings=settings, energy_and_grad=ENERGY)
    np.testing.assert_allclose(long.snapshot_K["layers.0"]["kernel"], short.params_K["layers.0"]["kernel"], atol=1e-12)


def test_bad_settings_are_refused():
    with pytest.raises(PhyslensError, match="optimizer"):
        VMCSettings(optimizer="lbfgs")
    with pytest.raises(PhyslensError, match="samples"):
        VMCSettings(samples=0)
