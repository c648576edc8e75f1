"""Supervised multi-task training of the nuclear regressor into a run directory, resumable.

Targets come from the AME2020 table (``physlens.nuclear.data``) or the fitted SEMF's
pseudo-data (``target_source``), one task per quantity of ``TASKS``, in MeV. For the task ``B`` the readout predicts the total binding energy B
(``binding_target = "total"``, the default, as in the model Kitouni et al. analyse) or B/A
(``"per_nucleon"``, MeV per nucleon, a target of small dynamic range); metrics, ``predict``
and ``evaluate`` report the total B in MeV either way. Rows (nucleus, task)
whose target is NaN, or estimated (``#``) when ``experimental_only``, are dropped per
task. Each task's targets are standardised by their mean and standard deviation over the
training rows; the model carries that affine map, so its output is in physical units.

The split is over nuclei (``train_fraction`` of them, drawn with ``split_seed``): a
nucleus is in the same split for every task, and every Z and N occurs in training. The
loss Σ_t w_t·MSE_t / Σ_t w_t of standardised errors is minimised by AdamW (linear
warm-up and cosine decay to 1 % of the peak rate, or constant; ``training_config.make_optimizer``), full-batch (``batch_size = 0``) or on
minibatches drawn epoch by epoch from a permutation seeded by ``seed`` and the epoch, so
``resume(path)`` of an interrupted run ends bitwise where an uninterrupted one does.

With ``structure_every`` the run records the structure measures of
``physlens.nuclear.structure`` every that many steps, step 0 included, in ``structure.jsonl``.

Default preset (the defaults of ``NuclearTrainConfig``, ``training_config.PRESETS``): width 64, depth 2, MLP ratio 4;
all eight tasks, the B readout predicting the total binding energy (as in the model Kitouni
et al. analyse) with loss weight 100 (the seven other tasks weigh 1); AdamW, peak rate
3e-3, weight decay 1e-2; minibatches of 256 rows for 40,000 steps; 80 % of the 2,457
experimental nuclei with Z, N ≥ 8 in training. On the 2-core CPU it trains in 266 s
(quiet) to a held-out B RMS of 0.99 MeV, against 3.20 MeV for the SEMF fitted on the training
nuclei (491 held-out nuclei, ``split_seed`` 0; seeds 1 and 2: 2.53 and 0.86 MeV); its
penultimate PC0 is the mass number A.
The B/A readout (``binding_target = "per_nucleon"``, B weight 3, 20,000 steps) reaches
0.64 MeV, but its leading penultimate direction is the distance from the stability line.

Usage::

    run = train(NuclearTrainConfig(), "runs/nuclear")
    run = resume("runs/nuclear")
    physlens.nuclear.evaluate.evaluate(run).rms_model     # held-out B RMS, MeV (vs .rms_semf)
"""

from __future__ import annotations

import functools
import math
import sys
import time
from pathlib import Path

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from physlens.errors import PhyslensError
from physlens.nuclear.evaluate import semf_baseline
from physlens.nuclear import structure
from physlens.nuclear.model import NuclearModel
from physlens.nuclear.targets import NuclearData, load_data
from physlens.nuclear.training_config import NuclearTrainConfig, make_optimizer
from physlens.folders import FolderLock
from physlens.runs import TERMINAL_STATES, Run

def build_model(config: NuclearTrainConfig, data: NuclearData) -> NuclearModel:
    """The ``NuclearModel`` of ``config``, sized to ``data`` (1 + largest Z, N) and carrying its standardisation."""
    return NuclearModel(n_z=int(data.nuclei.Z.max()) + 1, n_n=int(data.nuclei.N.max()) + 1, tasks=data.tasks,
                        width=config.width, depth=config.depth, mlp_ratio=config.mlp_ratio,
                        binding_per_nucleon=config.binding_target == "per_nucleon",
                        target_shift=tuple(data.shift_K.tolist()), target_scale=tuple(data.scale_K.tolist()))


def _make_chunk(model: NuclearModel, optimizer, config: NuclearTrainConfig, data: NuclearData):
    """The training rows (with loss weights c_r = w_t / n_t / Σ_t w_t) and a jitted
    ``chunk(state, rows, n)`` running ``n`` optimiser steps on ``state = (variables, opt_state, step)``."""
    train, task_R = data.train_R, data.x_R3[:, 2]
    w_K = np.array([config.task_weights.get(t, 1.0) for t in data.tasks])
    c_R = w_K[task_R] / np.maximum(np.bincount(task_R[train], minlength=len(w_K)), 1)[task_R] / w_K.sum()
    rows = {"x": data.x_R3[train], "y": data.y_R[train], "scale": data.scale_K[task_R[train]], "c": c_R[train]}
    rows = jax.tree_util.tree_map(jnp.asarray, rows)
    n_rows = int(train.sum())
    batch = config.batch_size if 0 < config.batch_size < n_rows else n_rows
    per_epoch, key = n_rows // batch, jax.random.PRNGKey(config.seed + 1)

    def loss_fn(variables, picked):
        err = (model.apply(variables, picked["x"]) - picked["y"]) / picked["scale"]
        return (n_rows / batch) * jnp.sum(picked["c"] * err**2)

    def epoch_order(count):
        return jax.random.permutation(jax.random.fold_in(key, count // per_epoch), n_rows)

    def step(carry, rows):
        (variables, opt_state, count), order = carry
        picked = rows
        if batch < n_rows:
            order = jax.lax.cond(count % per_epoch == 0, epoch_order, lambda _: order, count)
            index = jax.lax.dynamic_slice(order, ((count % per_epoch) * batch,), (batch,))
            picked = jax.tree_util.tree_map(lambda a: a[index], rows)
        loss, grads = jax.value_and_grad(loss_fn)(variables, picked)
        updates, opt_state = optimizer.update(grads, opt_state, variables)
        return ((optax.apply_updates(variables, updates), opt_state, count + 1), order), loss

    @functools.partial(jax.jit, static_argnames="n")
    def chunk(state, rows, n):
        start = (state, epoch_order(state[2]))
        (state, _), losses = jax.lax.scan(lambda carry, _: step(carry, rows), start, None, length=n)
        return state, losses.mean()

    return rows, chunk


def _make_rms(model: NuclearModel, data: NuclearData):
    """A jitted function of the variables giving (train, val) RMS per task, shape (2, tasks), in MeV."""
    x, y, unit = jnp.asarray(data.x_R3), jnp.asarray(data.y_R), jnp.asarray(data.unit_R)
    n_groups = 2 * len(data.tasks)
    group = jnp.asarray(data.x_R3[:, 2] + len(data.tasks) * (~data.train_R))
    count = jax.ops.segment_sum(jnp.ones_like(y), group, n_groups)
    return jax.jit(lambda v: jnp.where(count > 0, jnp.sqrt(jax.ops.segment_sum(
        (unit * (model.apply(v, x) - y)) ** 2, group, n_groups) / jnp.maximum(count, 1)), jnp.nan).reshape(2, -1))


class _Trainer:
    """One sitting of a training run: state between checkpoints, logging and the progress bar."""

    def __init__(self, run: Run, config: NuclearTrainConfig, progress: bool):
        self.run, self.config, self.progress = run, config, progress
        self.data = load_data(config)
        self.model, optimizer = build_model(config, self.data), make_optimizer(config)
        variables = self.model.init(jax.random.PRNGKey(config.seed), jnp.asarray(self.data.x_R3[:1]))
        self.state = (variables, optimizer.init(variables), jnp.asarray(0, dtype=jnp.int64))
        self.metrics: list[dict] = []
        self.structure: list[dict] = []
        self.seconds_before, self.start = 0.0, time.perf_counter()
        snapshot = run.read_state("checkpoint.msgpack")
        if snapshot is not None:
            self.state = flax.serialization.from_state_dict(self.state, snapshot)
            self.metrics = [r for r in run.metrics_rows() if r["step"] <= self.step]
            self.structure = [r for r in run.read_rows(structure.FILE) if r["step"] <= self.step]
            self.seconds_before = run.status.get("seconds", 0.0)
        self.rows, self.chunk = _make_chunk(self.model, optimizer, config, self.data)
        self.rms = _make_rms(self.model, self.data)

    @property
    def step(self) -> int:
        """Optimiser steps taken so far (the step count held in ``state``)."""
        return int(self.state[2])

    @property
    def seconds(self) -> float:
        """Wall time of the run: earlier sittings (up to their last checkpoint) and this one."""
        return self.seconds_before + time.perf_counter() - self.start

    def log(self, loss: float) -> dict:
        """Append and return the metrics row of the current step: ``step``, ``loss`` (the mean standardised
        loss of the chunk) and the train/val RMS of every task, in MeV."""
        rms = np.asarray(self.rms(self.state[0]))
        row = {"step": self.step, "loss": loss}
        for split, rms_K in zip(("train", "val"), rms):
            row |= {f"{split}_rms_{t}": float(v) for t, v in zip(self.data.tasks, rms_K)}
        self.metrics.append(row)
        return row

    def record_structure(self) -> None:
        """Append the structure measures of the model as it is now, when ``structure_every`` asks for them."""
        every = self.config.structure_every
        if every and self.step % every == 0 and not any(r["step"] == self.step for r in self.structure):
            self.structure.append({"step": self.step,
                                   **structure.structure_row(self.model, self.state[0], self.data)})

    def after_chunk(self) -> None:
        """Record the structure measures when due, and checkpoint every ``checkpoint_every`` steps."""
        self.record_structure()
        if self.step % self.config.checkpoint_every == 0:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Save parameters, optimiser state and step, with the metrics up to them."""
        self.run.write_metrics(self.metrics)
        if self.structure:
            self.run.write_rows(structure.FILE, self.structure)
        state = flax.serialization.to_state_dict(self.state)
        self.run.write_blob("checkpoint.msgpack", flax.serialization.msgpack_serialize(state))
        self.run.write_status("running", step=self.step, seconds=self.seconds)

    def fit(self) -> Run:
        """Train to ``config.steps`` in chunks of up to ``log_every`` steps; returns the loaded run (``failed``
        when the loss diverges). An interruption marks the run interrupted and is re-raised."""
        config, start, task = self.config, time.perf_counter(), self.data.tasks[0]
        bar = tqdm(total=config.steps, initial=self.step, desc="nuclear", file=sys.stderr, dynamic_ncols=True,
                   mininterval=0.5, disable=not self.progress)
        try:
            self.record_structure()
            while self.step < config.steps:
                n = min(config.log_every - self.step % config.log_every, config.steps - self.step)
                self.state, loss = self.chunk(self.state, self.rows, n)
                if not math.isfinite(float(loss)):
                    message = f"diverged: the loss is {float(loss)} at step {self.step}"
                    return self.finish("failed", time.perf_counter() - start, message)
                row = self.log(float(loss))
                train_rms, val_rms = row[f"train_rms_{task}"], row[f"val_rms_{task}"]
                bar.set_postfix_str(f"{task} RMS train={train_rms:.3f} val={val_rms:.3f} MeV", refresh=False)
                bar.update(n)
                self.after_chunk()
        except BaseException as exc:
            self.run.mark_interrupted(exc)
            raise
        finally:
            bar.close()
        return self.finish("finished", time.perf_counter() - start)

    def finish(self, state: str, seconds: float, message: str = "") -> Run:
        """Save the final parameters and a checkpoint, write status ``state`` with the last metrics (MeV);
        returns the loaded run."""
        variables = flax.serialization.to_state_dict(self.state[0])
        self.run.write_blob("params.msgpack", flax.serialization.msgpack_serialize(variables))
        self.checkpoint()
        summary = {k: v for k, v in self.metrics[-1].items() if k != "step"} if self.metrics else {}
        n_parameters = int(sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(self.state[0])))
        self.run.write_status(state, step=self.step, message=message, unit="MeV", seconds_last_sitting=seconds,
                              seconds=self.seconds, n_parameters=n_parameters, **summary)
        return load(self.run.path)


def train(config: NuclearTrainConfig, out: Path | str, *, progress: bool = True) -> Run:
    """Train a new run into the empty folder ``out``; returns the loaded run.

    ``reference.json`` records the sizes, the standardisation and the SEMF fitted on the
    training nuclei (coefficients and train/val B RMS, MeV).
    """
    data = load_data(config)
    semf = semf_baseline(data)
    reference = {"unit": "MeV", "n_nuclei": len(data.nuclei), "n_train_nuclei": int(data.nuclei.train.sum()),
                 "rows_per_task": dict(zip(data.tasks, np.bincount(data.x_R3[:, 2]).tolist())),
                 "target_shift": dict(zip(data.tasks, data.shift_K.tolist())),
                 "target_scale": dict(zip(data.tasks, data.scale_K.tolist())),
                 "semf": {k: semf[k] for k in ("coefficients", "train_rms", "val_rms")}}
    run = Run.create(out, {"kind": "nuclear", **config.to_dict()}, reference)
    with FolderLock(run.path):
        return _Trainer(run, config, progress).fit()


def resume(path: Path | str, *, progress: bool = True) -> Run:
    """Continue an interrupted run from its last checkpoint to where an uninterrupted run ends."""
    run = Run.open(path)
    with FolderLock(run.path):
        if run.status["state"] in TERMINAL_STATES:
            return load(path)
        return _Trainer(run, _config_of(run), progress).fit()


def train_or_resume(config: NuclearTrainConfig, path: Path | str, *, progress: bool = True) -> Run:
    """The run of ``config`` in ``path``: trained anew into an empty ``path``, else resumed (or loaded when ended).
    For studies, whose folders pin their settings so that ``path`` can only hold a run of ``config``."""
    path = Path(path)
    return resume(path, progress=progress) if (path / "config.toml").exists() else train(config, path, progress=progress)


def _config_of(run: Run) -> NuclearTrainConfig:
    return NuclearTrainConfig.from_dict(run.settings)


def load(path: Path | str) -> Run:
    """Open a nuclear run and restore its data, model and variables (``run.system``, ``run.model``, ``run.variables``)."""
    run = Run.open(path, kind="nuclear")
    run.system, run.model, run.variables = restore(run)
    return run


def restore(run: Run) -> tuple[NuclearData, NuclearModel, dict]:
    """Data, model and variables of a run (final parameters, else the last checkpoint)."""
    config = _config_of(run)
    data = load_data(config)
    model = build_model(config, data)
    template = model.init(jax.random.PRNGKey(0), jnp.asarray(data.x_R3[:1]))
    final = run.read_state("params.msgpack")
    if final is None:
        checkpoint = run.read_state("checkpoint.msgpack")
        if checkpoint is None:
            raise PhyslensError(f"{run.path} holds no parameters yet (no params.msgpack or checkpoint.msgpack)")
        final = checkpoint["0"]
    try:
        return data, model, flax.serialization.from_state_dict(template, final)
    except (KeyError, ValueError, TypeError) as exc:
        raise PhyslensError(f"{run.path} parameters do not fit its model: {exc}") from None
