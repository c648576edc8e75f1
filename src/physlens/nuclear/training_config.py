"""What defines a nuclear training run: ``NuclearTrainConfig`` (a run's ``config.toml``), its optimiser and presets.

Two presets (``PRESETS``):

- ``default`` (the defaults of ``NuclearTrainConfig``): width 64, depth 2; all eight AME2020
  tasks with B weighted 100; AdamW with warm-up and cosine decay, peak 3e-3, weight decay
  0.01 on every parameter; minibatches of 256 rows for 40,000 steps; 80 % of the nuclei in
  training. About 5 minutes on the 2-core CPU.
- ``paper``: the long run of "From Neurons to Neutrons" (arXiv 2405.17425, Appendix B; its
  public code ``okitouni/NuCLR-MechInterp``, ``scripts/exps/long-runs.py`` and
  ``scripts/train.py``): width 2048, depth 2, AdamW at a constant 1e-4 with weight decay
  0.01 on weights and embeddings but not biases, full batch (one step per epoch) for
  200,000 epochs, all the data in training (``TRAIN_FRAC = 1``, ``NUCLEI_GE = 0``), seed 0;
  tasks B (weight 100), Z and N (1), S_n, S_p, Q_α, Q_β⁻, Q_EC (200). Its residual
  blocks are width → width, so ``mlp_ratio`` is 1. Its radius and
  Q(β⁻n) targets are left out (not in the shipped table), and its μP parametrisation and
  SiLU/ReLU residual MLP are physlens's ``NuclearModel`` here: same width, depth and
  optimiser, not the same network. Built for an accelerator (``physlens nuclear train
  --preset paper``); on this machine's CPU its projected time is in BENCHMARKS.md.

Usage::

    cfg = preset("paper", steps=10)                 # a smoke-test length
    optimizer = make_optimizer(cfg)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import jax
import optax

from physlens.errors import PhyslensError, check_choice
from physlens.nuclear.data import STUDY_NMIN, STUDY_ZMIN
from physlens.nuclear.targets import BINDING_TARGETS, DEFAULT_TASKS, TARGET_SOURCES, TASKS
from physlens.runs import dataclass_from_dict

SCHEDULES = ("cosine", "constant")
"""Learning-rate schedules: linear warm-up then cosine decay to 1 % of the peak, or constant."""


@dataclass(frozen=True)
class NuclearTrainConfig:
    """Everything that defines a nuclear training run (written to ``config.toml``).

    Attributes:
        tasks: task names from ``TASKS``; their order is the model's task index.
        task_weights: loss weight per task name of ``TASKS``; tasks not named weigh 1.
        binding_target: what the readout of ``B`` predicts, one of ``BINDING_TARGETS``:
            ``total`` (B, the default) or ``per_nucleon`` (B/A).
        target_source: where the targets come from, one of ``TARGET_SOURCES``: ``ame2020``
            (measured), ``semf`` or ``semf-grid`` (the fitted SEMF's pseudo-data).
        experimental_only: keep only experimental masses and experimental target values.
        zmin: smallest Z kept.
        nmin: smallest N kept.
        train_fraction: fraction of nuclei in the training split, in (0, 1]; 1 trains on all
            (no held-out nuclei: validation metrics are NaN).
        split_seed: seed of the train/validation split.
        width: model width D.
        depth: number of blocks L.
        mlp_ratio: MLP hidden width as a multiple of D.
        seed: seed of the initialisation and of the minibatch order.
        steps: optimiser steps.
        batch_size: rows per minibatch; 0 uses every training row each step.
        learning_rate: peak AdamW learning rate.
        schedule: learning-rate schedule, one of ``SCHEDULES``.
        warmup_steps: steps of linear warm-up before the cosine decay (``cosine`` only).
        weight_decay: AdamW decoupled weight decay.
        decay_biases: whether the weight decay acts on biases too (the paper's: no).
        log_every: steps between metric rows (train/val RMS per task).
        checkpoint_every: steps between checkpoints (a multiple of ``log_every``).
        structure_every: steps between structure measures (``physlens.nuclear.structure``:
            orderedness, R_P, helix, best PC ↔ term cosines) written to ``structure.parquet``,
            step 0 included; 0 records none. A multiple of ``log_every``.
    """

    tasks: tuple[str, ...] = DEFAULT_TASKS
    task_weights: dict = field(default_factory=lambda: {"B": 100.0})
    binding_target: str = "total"
    target_source: str = "ame2020"
    experimental_only: bool = True
    zmin: int = STUDY_ZMIN
    nmin: int = STUDY_NMIN
    train_fraction: float = 0.8
    split_seed: int = 0
    width: int = 64
    depth: int = 2
    mlp_ratio: int = 4
    seed: int = 0
    steps: int = 40000
    batch_size: int = 256
    learning_rate: float = 3e-3
    schedule: str = "cosine"
    warmup_steps: int = 200
    weight_decay: float = 1e-2
    decay_biases: bool = True
    log_every: int = 250
    checkpoint_every: int = 1000
    structure_every: int = 0

    def __post_init__(self):
        names = (*self.tasks, *self.task_weights)
        if not self.tasks or len(set(self.tasks)) != len(self.tasks) or any(t not in TASKS for t in names):
            raise PhyslensError(f"tasks {list(self.tasks)} and task_weights {list(self.task_weights)} need distinct "
                                f"known task names; allowed: {', '.join(TASKS)}")
        check_choice("binding_target", self.binding_target, BINDING_TARGETS)
        check_choice("target_source", self.target_source, tuple(TARGET_SOURCES))
        check_choice("schedule", self.schedule, SCHEDULES)
        weights = [self.task_weights.get(t, 1.0) for t in self.tasks]
        if min(weights) < 0 or max(weights) <= 0:
            raise PhyslensError(f"task_weights must be >= 0, one trained task's > 0; got {self.task_weights}")
        if not 0 < self.train_fraction <= 1:
            raise PhyslensError(f"train_fraction must lie in (0, 1]; got {self.train_fraction}")
        for name in ("width", "mlp_ratio", "steps", "log_every", "checkpoint_every", "learning_rate"):
            if not getattr(self, name) > 0:
                raise PhyslensError(f"{name} must be > 0; got {getattr(self, name)}")
        for name in ("depth", "batch_size", "warmup_steps", "weight_decay", "zmin", "nmin", "structure_every"):
            if getattr(self, name) < 0:
                raise PhyslensError(f"{name} must be >= 0; got {getattr(self, name)}")
        for name in ("checkpoint_every", "structure_every"):
            if getattr(self, name) % self.log_every:
                raise PhyslensError(f"{name} ({getattr(self, name)}) must be a multiple of "
                                    f"log_every ({self.log_every})")

    @classmethod
    def from_dict(cls, values: dict) -> "NuclearTrainConfig":
        """Build from a plain dict (a TOML table); unknown keys are an error."""
        return dataclass_from_dict(cls, values)

    def to_dict(self) -> dict:
        """The config as a plain dict (tuples stay tuples)."""
        return dataclasses.asdict(self)


PAPER_TASK_WEIGHTS = {"B": 100.0, "Z": 1.0, "N": 1.0, "S_n": 200.0, "S_p": 200.0, "Q_alpha": 200.0,
                      "Q_beta_minus": 200.0, "Q_EC": 200.0}
"""Loss weights of the paper's all-task long run (``long-runs.py``: binding 100, z 1, n 1, the decay and
separation energies 200), restricted to the tasks physlens has."""

PRESETS: dict[str, dict] = {
    "default": {},
    "paper": {"tasks": tuple(PAPER_TASK_WEIGHTS), "task_weights": PAPER_TASK_WEIGHTS, "zmin": 0, "nmin": 0,
              "train_fraction": 1.0, "width": 2048, "depth": 2, "mlp_ratio": 1, "seed": 0, "steps": 200_000, "batch_size": 0,
              "learning_rate": 1e-4, "schedule": "constant", "weight_decay": 0.01, "decay_biases": False,
              "log_every": 1000, "checkpoint_every": 5000},
}
"""Named settings over ``NuclearTrainConfig``'s defaults (see the module docstring)."""


def preset(name: str, **overrides: Any) -> NuclearTrainConfig:
    """The config of preset ``name`` (one of ``PRESETS``) with ``overrides`` applied."""
    check_choice("preset", name, tuple(PRESETS))
    return NuclearTrainConfig.from_dict({**NuclearTrainConfig().to_dict(), **PRESETS[name], **overrides})


def make_optimizer(config: NuclearTrainConfig) -> optax.GradientTransformation:
    """AdamW at ``config.learning_rate``: constant, or with linear warm-up and cosine decay to 1 % of the peak;
    the weight decay skips biases unless ``config.decay_biases``."""
    rate = config.learning_rate
    if config.schedule == "cosine":
        rate = optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, min(config.warmup_steps, config.steps - 1),
                                                  config.steps, end_value=0.01 * config.learning_rate)

    def decayed(params):
        return jax.tree_util.tree_map_with_path(
            lambda path, _: config.decay_biases or getattr(path[-1], "key", None) != "bias", params)

    return optax.adamw(rate, weight_decay=config.weight_decay, mask=decayed)
