"""Training an SAE on an array of activations with optax (Adam).

Each step draws a minibatch from a seeded per-epoch shuffle, takes the gradient of the
architecture's loss, removes from each decoder row's gradient its component along that
row, applies Adam and rescales the decoder rows to unit norm. An epoch runs as one jitted
``lax.scan`` over its minibatches. Usage::

    cfg = TopKConfig(d_in=64, d_sae=512, k=16)
    sae, log = train_sae(cfg, acts_ND, TrainConfig(n_steps=5000, batch_size=4096))
    log.to_frame().plot(y="mse")
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from physlens.errors import PhyslensError
from physlens.lens.sae.base import (
    SAE,
    SAEConfig,
    as_acts,
    init_sae,
    normalise,
    remove_parallel_grads,
    require_non_negative,
    require_positive_int,
    unit_norm_rows,
)


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How to train.

    Attributes:
        n_steps: optimiser steps.
        batch_size: inputs per step; at most the number of inputs. Each epoch is a fresh
            shuffle and drops the inputs left over after its last full batch.
        learning_rate: Adam step size (the parameters live in normalised input units).
        adam_b1: Adam's first-moment decay.
        adam_b2: Adam's second-moment decay.
        seed: seeds the initialisation and the shuffles.
    """

    n_steps: int = 2000
    batch_size: int = 4096
    learning_rate: float = 1e-3
    adam_b1: float = 0.9
    adam_b2: float = 0.999
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_steps", "batch_size"):
            require_positive_int(name, getattr(self, name))
        for name in ("learning_rate", "adam_b1", "adam_b2"):
            require_non_negative(name, getattr(self, name))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise PhyslensError(f"seed must be an integer, got {self.seed!r}")


@dataclass(frozen=True)
class TrainLog:
    """Per-step training record (T steps; losses in normalised units, inputs of unit mean squared norm).

    Attributes:
        loss_T: the total loss.
        mse_T: mean over the batch of ‖x − x̂‖², the normalised MSE.
        penalty_T: the weighted sparsity (ReLU, JumpReLU) or AuxK (TopK) term.
        l0_T: mean number of active latents per input.
        dead_fraction_T: fraction of latents silent for ``dead_after_tokens`` inputs, after the step.
    """

    loss_T: np.ndarray
    mse_T: np.ndarray
    penalty_T: np.ndarray
    l0_T: np.ndarray
    dead_fraction_T: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """One row per step, indexed by step."""
        columns = {name[:-2]: value for name, value in vars(self).items()}
        return pd.DataFrame(columns).rename_axis("step")


def _adam(hyper: tuple[float, float, float]) -> optax.GradientTransformation:
    """Adam from (learning rate, b1, b2), a hashable key for the compilation cache."""
    learning_rate, b1, b2 = hyper
    return optax.adam(learning_rate, b1=b1, b2=b2)


def _train_step(cfg: SAEConfig, optimiser: optax.GradientTransformation, x_ND: jax.Array, state, idx_B: jax.Array):
    """One optimiser step on the minibatch ``x_ND[idx_B]``; returns the new state and its record."""
    params, opt_state, silent_F = state
    x_BD = x_ND[idx_B]
    dead_F = silent_F >= cfg.dead_after_tokens
    (loss, parts), grads = jax.value_and_grad(cfg.loss, has_aux=True)(params, x_BD, dead_F)
    grads = grads | {"W_dec": remove_parallel_grads(params["W_dec"], grads["W_dec"])}
    updates, opt_state = optimiser.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    params = params | {"W_dec": unit_norm_rows(params["W_dec"])}
    silent_F = jnp.where(parts["fired_F"], 0, silent_F + idx_B.shape[0])
    dead_fraction = jnp.mean((silent_F >= cfg.dead_after_tokens).astype(jnp.float64))
    return (params, opt_state, silent_F), (loss, parts["mse"], parts["penalty"], parts["l0"], dead_fraction)


@partial(jax.jit, static_argnums=(0, 1))
def _train_epoch(cfg: SAEConfig, hyper: tuple[float, float, float], state, x_ND: jax.Array, idx_SB: jax.Array, n_steps):
    """Run ``_train_step`` on the first ``n_steps`` of the S minibatch index rows ``idx_SB``.

    The step count is traced, so every epoch of a run (the last one often shorter) and every
    run with the same config, optimiser, data shape and batch size share one compilation.
    Returns the state and five records of length S, valid up to ``n_steps``.
    """
    step = partial(_train_step, cfg, _adam(hyper), x_ND)

    def body(s, carry):
        state, records = carry
        state, values = step(state, idx_SB[s])
        return state, tuple(r.at[s].set(v) for r, v in zip(records, values))

    records = tuple(jnp.zeros(idx_SB.shape[0], dtype=jnp.float64) for _ in range(5))
    return jax.lax.fori_loop(0, n_steps, body, (state, records))


def train_sae(cfg: SAEConfig, acts_ND: jax.Array, train: TrainConfig = TrainConfig()) -> tuple[SAE, TrainLog]:
    """Initialise an SAE on the activations (N, D), input units, and train it; returns it and its log."""
    acts_ND = as_acts(acts_ND, cfg.d_in)
    n = acts_ND.shape[0]
    if train.batch_size > n:
        raise PhyslensError(f"batch_size must be at most the number of inputs ({n}), got {train.batch_size}")
    key_init, key_shuffle = jax.random.split(jax.random.key(train.seed))
    sae = init_sae(cfg, acts_ND, key_init)
    x_ND = normalise(sae, acts_ND)
    hyper = (float(train.learning_rate), float(train.adam_b1), float(train.adam_b2))
    state = (sae.params, _adam(hyper).init(sae.params), jnp.zeros(cfg.d_sae, dtype=jnp.int64))
    steps_per_epoch = n // train.batch_size
    records, done, epoch = [], 0, 0
    while done < train.n_steps:
        steps = min(steps_per_epoch, train.n_steps - done)
        order_N = jax.random.permutation(jax.random.fold_in(key_shuffle, epoch), n)
        idx_SB = order_N[: steps_per_epoch * train.batch_size].reshape(steps_per_epoch, train.batch_size)
        state, record = _train_epoch(cfg, hyper, state, x_ND, idx_SB, steps)
        records.append([np.asarray(r)[:steps] for r in record])
        done, epoch = done + steps, epoch + 1
    columns = [np.concatenate([r[i] for r in records]) for i in range(5)]
    return replace(sae, params=state[0]), TrainLog(*columns)
