import jax
import numpy as np
import pytest

from physlens.lens.affine import SPARSE_FILL, SparseEdits, affine_edits, layout_of, readout_is_affine
from physlens.lens.hooks import Lens
from physlens.lens.interventions import AddDirection, Ablate, Clamp, KeepOnly, Scale, single_unit_ablations, stack
from physlens.quantum.models import FFNN, RBM

N_SITES = 8


def random_lens(model, std=0.3) -> tuple[Lens, np.ndarray]:
    sigma_BN = np.where(np.random.default_rng(0).random((37, N_SITES)) < 0.5, -1.0, 1.0)
    variables = model.init(jax.random.PRNGKey(0), sigma_BN[:1])
    leaves, tree = jax.tree.flatten(variables)
    keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
    variables = jax.tree.unflatten(tree, [std * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])
    return Lens(model, variables), sigma_BN


def one_by_one(lens: Lens, hook: str, sigma_BN, edit_KD) -> np.ndarray:
    """log ψ under each edit by its own forward pass with the hook rewritten: the reference, ``(B, K)``."""
    return np.stack([np.asarray(lens.run_with_hooks(sigma_BN, {hook: lambda h, k=k: h * edit_KD.scale[k]
                                                                + edit_KD.shift[k]}))
                     for k in range(edit_KD.scale.shape[0])], axis=1)


@pytest.mark.parametrize(("model", "hook", "affine"), [
    (RBM(alpha=2), "hidden.post", True),
    (RBM(alpha=2), "hidden.pre", False),
    (FFNN(widths=(12,)), "layers.0.post", True),
])
def test_affinity_is_read_from_the_jaxpr(model, hook, affine):
    lens, sigma_BN = random_lens(model)
    assert readout_is_affine(lens, hook, sigma_BN[:1]) is affine


def test_sparse_edits_record_their_nonzeros_and_order():
    ablations = stack(single_unit_ablations("h", 5), 5)
    sparse = SparseEdits.of(ablations.scale, ablations.shift)
    assert (sparse.scale_layout, sparse.shift_layout, sparse.n_edits) == ("slice", "scatter", 5)
    np.testing.assert_array_equal(sparse.d_E, np.arange(5))
    np.testing.assert_array_equal(sparse.v_E, -np.ones(5))
    mixed = stack([Ablate("h", 3), Scale("h", (0, 6), 2.0), Clamp("h", 2, 0.7)], 8)
    sparse = SparseEdits.of(mixed.scale, mixed.shift)
    assert sparse.scale_layout == "scatter" and sparse.k_E.tolist() == [0, 1, 1, 2] and sparse.d_E.tolist() == [3, 0, 6, 2]
    assert sparse.shift_layout == "scatter" and sparse.k_F.tolist() == [2] and sparse.w_F.tolist() == [0.7]
    assert layout_of(np.arange(3), np.array([4, 5, 6]), 3) == "slice"
    assert layout_of(np.arange(3), np.array([4, 6, 5]), 3) == "gather"
    assert layout_of(np.array([0, 2]), np.array([1, 2]), 3) == "scatter"
    dense = stack([KeepOnly("h", 0), KeepOnly("h", 1)], 5)
    assert (dense.scale != 1).mean() > SPARSE_FILL and SparseEdits.of(dense.scale, dense.shift) is None


@pytest.mark.parametrize("model, hook", [(RBM(alpha=2), "hidden.post"), (FFNN(widths=(12,)), "layers.0.post")])
@pytest.mark.parametrize("interventions", ["ablations", "later units", "one each", "shuffled", "dense"])
def test_affine_edits_equal_a_forward_pass_per_edit(model, hook, interventions):
    lens, sigma_BN = random_lens(model)
    width = lens.run_with_cache(sigma_BN[:1], [hook])[1][hook].shape[-1]
    chosen = {"ablations": single_unit_ablations(hook, width),
              "later units": [Ablate(hook, j) for j in range(3, 7)],
              "one each": [Ablate(hook, 4), Clamp(hook, 2, 0.3), Scale(hook, 9, 0.5)],
              "shuffled": [Ablate(hook, 3), Clamp(hook, 1, 0.4), Scale(hook, (0, 5), 2.5)],
              "dense": [KeepOnly(hook, 2), AddDirection(hook, np.linspace(-1, 1, width), 0.3)]}[interventions]
    edit_KD = stack(chosen, width)
    sparse = SparseEdits.of(edit_KD.scale, edit_KD.shift)
    expected = {"ablations": "slice", "later units": "slice", "one each": "gather", "shuffled": "scatter"}
    assert (None if sparse is None else sparse.scale_layout) == expected.get(interventions)
    got_BK = np.asarray(affine_edits(lens, hook, sigma_BN, edit_KD if sparse is None else sparse))
    np.testing.assert_allclose(got_BK, one_by_one(lens, hook, sigma_BN, edit_KD), rtol=0, atol=1e-12)
