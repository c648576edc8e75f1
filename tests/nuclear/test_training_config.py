"""Presets and the optimiser: the paper preset's model and settings, weight decay that spares biases, no held-out set."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from physlens.errors import PhyslensError
from physlens.nuclear import train as training
from physlens.nuclear.targets import load_data
from physlens.nuclear.training_config import NuclearTrainConfig, make_optimizer, preset


def n_parameters(n_z: int, n_n: int, n_tasks: int, width: int, depth: int, hidden: int) -> int:
    """Closed-form parameter count of ``NuclearModel``: three embedding tables, per block the uniform-attention
    map and the MLP (with biases), and the readout."""
    block = (width * width + width) + (width * hidden + hidden) + (hidden * width + width)
    return (n_z + n_n + n_tasks) * width + depth * block + width * n_tasks + n_tasks


def test_paper_preset_builds_the_stated_model():
    cfg = preset("paper")
    assert (cfg.width, cfg.depth, cfg.learning_rate, cfg.weight_decay, cfg.steps, cfg.batch_size, cfg.seed) == \
        (2048, 2, 1e-4, 0.01, 200_000, 0, 0)
    assert cfg.train_fraction == 1.0 and cfg.schedule == "constant" and not cfg.decay_biases
    data = load_data(cfg)
    assert data.train_R.all() and data.nuclei.Z.min() == 0
    model = training.build_model(cfg, data)
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, 3), jnp.int32))
    count = sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(shapes))
    n_z, n_n = int(data.nuclei.Z.max()) + 1, int(data.nuclei.N.max()) + 1
    assert count == n_parameters(n_z, n_n, len(cfg.tasks), 2048, 2, 2048)
    assert count > 25_000_000


def test_paper_preset_trains_a_few_steps_on_cpu_and_resumes(tmp_path):
    """The preset's settings at width 16 (the full width is timed in bench/nuclear_width.py): every nucleus in
    training, so the held-out RMS is NaN, not 0."""
    cfg = preset("paper", width=16, steps=4, log_every=2, checkpoint_every=2)
    run = training.train(cfg, tmp_path / "paper", progress=False)
    assert run.status["state"] == "finished" and run.status["step"] == 4
    assert np.isnan(run.status["val_rms_B"]) and np.isfinite(run.status["train_rms_B"])


def test_weight_decay_spares_biases_when_asked():
    params = {"params": {"dense": {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)}}}
    zero = jax.tree_util.tree_map(jnp.zeros_like, params)
    for decay_biases in (True, False):
        cfg = NuclearTrainConfig(learning_rate=0.1, schedule="constant", weight_decay=0.5, decay_biases=decay_biases)
        optimizer = make_optimizer(cfg)
        updates, _ = optimizer.update(zero, optimizer.init(params), params)
        np.testing.assert_allclose(updates["params"]["dense"]["kernel"], -0.1 * 0.5)
        np.testing.assert_allclose(updates["params"]["dense"]["bias"], -0.05 if decay_biases else 0.0)
    cosine = make_optimizer(NuclearTrainConfig(learning_rate=1.0, steps=100, warmup_steps=10, weight_decay=0.0))
    reference = optax.adamw(optax.warmup_cosine_decay_schedule(0.0, 1.0, 10, 100, end_value=0.01), weight_decay=0.0)
    grads = jax.tree_util.tree_map(lambda a: 0.3 * a, params)
    state, ref_state = cosine.init(params), reference.init(params)
    for _ in range(3):
        (u, state), (r, ref_state) = cosine.update(grads, state, params), reference.update(grads, ref_state, params)
    np.testing.assert_allclose(u["params"]["dense"]["kernel"], r["params"]["dense"]["kernel"], rtol=1e-12)


def test_bad_settings_are_one_line_errors():
    with pytest.raises(PhyslensError, match="preset"):
        preset("huge")
    with pytest.raises(PhyslensError, match="train_fraction"):
        NuclearTrainConfig(train_fraction=1.5)
    with pytest.raises(PhyslensError, match="structure_every"):
        NuclearTrainConfig(structure_every=100)
    with pytest.raises(PhyslensError, match="target_source"):
        NuclearTrainConfig(target_source="frdm")
