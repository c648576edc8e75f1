"""Exact vmapped training of masked FFNNs against dense-matrix references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.mask import Mask, stack_masks
from physlens.lens.pruning import prune_random
from physlens.quantum.masked_training import ExactProblem, init_params, make_energy_and_grad, train_masked
from physlens.quantum.models import FFNN
from physlens.quantum.systems import TFIMChain, TFIMSquare

MODEL = FFNN(widths=(4,))


def first(tree, k=0):
    return jax.tree_util.tree_map(lambda leaf: leaf[k], tree)


@pytest.fixture(scope="module")
def square():
    system = TFIMSquare(2, h=1.3)
    return system, ExactProblem.of(system)


def masks_for(params_K, seeds):
    template = Mask.ones_like(first(params_K))
    return [prune_random(template, 0.4, seed=s) for s in seeds]


def test_problem_holds_the_hamiltonian(square):
    system, problem = square
    h_dense = system.sparse_hamiltonian().toarray()
    rebuilt = np.zeros_like(h_dense)
    np.add.at(rebuilt, (np.repeat(np.arange(problem.n_states), problem.cols_SR.shape[1]), problem.cols_SR.ravel()),
              problem.vals_SR.ravel())
    np.testing.assert_allclose(rebuilt, h_dense)
    assert problem.e0 == pytest.approx(np.linalg.eigvalsh(h_dense)[0], abs=1e-10)


def test_energies_and_gradients_match_a_dense_reference(square):
    system, problem = square
    params_K = init_params(MODEL, 4, [0, 1])
    masks = masks_for(params_K, [5, 6])
    energy_K, grad_K = make_energy_and_grad(MODEL, problem, chunk=4)(params_K, stack_masks(masks))
    h_dense = jnp.asarray(system.sparse_hamiltonian().toarray())
    basis = jnp.asarray(system.hilbert.all_states())
    for k, mask in enumerate(masks):
        def energy(p):
            psi = jnp.exp(MODEL.apply({"params": mask.apply(p)}, basis))
            return psi @ h_dense @ psi / (psi @ psi)
        params = first(params_K, k)
        assert energy_K[k] == pytest.approx(system.energy_of(MODEL.apply({"params": mask.apply(params)}, basis)), abs=1e-10)
        ref = jax.grad(energy)(params)
        for got, want, keep in zip(jax.tree_util.tree_leaves(first(grad_K, k)), jax.tree_util.tree_leaves(ref),
                                   jax.tree_util.tree_leaves(mask.tree)):
            np.testing.assert_allclose(got, want, atol=1e-10)
            assert np.all(np.asarray(got)[~keep] == 0)


def test_masked_weights_stay_exactly_zero_through_many_adam_steps(square):
    _, problem = square
    params_K = init_params(MODEL, 4, [3, 4])
    masks = masks_for(params_K, [1, 2])
    dense_grad = make_energy_and_grad(MODEL, problem)(params_K, stack_masks([Mask.ones_like(first(params_K))] * 2))[1]
    pruned = ~masks[0].leaves()["layers.0/kernel"]
    assert np.all(np.abs(np.asarray(dense_grad["layers.0"]["kernel"][0])[pruned]) > 0)
    result = train_masked(MODEL, problem, params_K, stack_masks(masks), steps=150, learning_rate=0.05)
    for k, mask in enumerate(masks):
        kernel = np.asarray(result.params_K["layers.0"]["kernel"][k])
        keep = mask.leaves()["layers.0/kernel"]
        assert np.all(kernel[~keep] == 0) and np.all(kernel[keep] != 0)
    assert np.all(result.energy_K >= problem.e0 - 1e-10)
    assert np.all(result.history_TK[-1] < result.history_TK[0])


def test_vmapped_training_equals_one_network_at_a_time():
    system = TFIMChain(6, h=0.8)
    problem = ExactProblem.of(system)
    params_K = init_params(MODEL, 6, [0, 1])
    masks = masks_for(params_K, [0, 1])
    together = train_masked(MODEL, problem, params_K, stack_masks(masks), steps=20, learning_rate=0.02, snapshot_step=10)
    for k in range(2):
        alone = train_masked(MODEL, problem, jax.tree_util.tree_map(lambda x: x[k:k + 1], params_K), stack_masks([masks[k]]),
                             steps=20, learning_rate=0.02, snapshot_step=10)
        for a, b in zip(jax.tree_util.tree_leaves(first(together.params_K, k)), jax.tree_util.tree_leaves(alone.params_K)):
            np.testing.assert_allclose(a, b[0], atol=1e-10)
        for a, b in zip(jax.tree_util.tree_leaves(first(together.snapshot_K, k)), jax.tree_util.tree_leaves(alone.snapshot_K)):
            np.testing.assert_allclose(a, b[0], atol=1e-10)
        assert together.rel_error_K[k] == pytest.approx(abs(alone.energy_K[0] - problem.e0) / abs(problem.e0), abs=1e-10)


def test_bad_training_input_raises(square):
    _, problem = square
    params_K = init_params(MODEL, 4, [0])
    masks_K = stack_masks([Mask.ones_like(first(params_K))])
    with pytest.raises(PhyslensError, match="chunk"):
        make_energy_and_grad(MODEL, problem, chunk=3)
    with pytest.raises(PhyslensError, match="steps"):
        train_masked(MODEL, problem, params_K, masks_K, steps=0)
    with pytest.raises(PhyslensError, match="snapshot_step"):
        train_masked(MODEL, problem, params_K, masks_K, steps=5, snapshot_step=6)
    with pytest.raises(PhyslensError, match="seeds"):
        init_params(MODEL, 4, [])
