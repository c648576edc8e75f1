"""The nuclear study: embedding structure against training fraction, single- vs multi-task.

Two families of independent models of ``physlens.nuclear.train``:

- training fraction f ∈ ``fractions`` × ``seeds`` (the seed draws both the split and the
  initialisation), all tasks: held-out RMS per task, orderedness along PC0 and parity
  split R_P of the Z and N embeddings (``index_structure_row``);
- one single-task model per task of ``single_tasks`` at ``single_fraction`` and
  ``single_seed``, compared with the multi-task model of the same fraction and seed.

Every model uses the study preset: width 32 and 1,500 optimiser steps (``StudyConfig.width``,
``.steps``), a B/A readout with B weighted 3 (``.binding_target``, ``.b_weight``; the default
``NuclearTrainConfig`` predicts B, weight 100, width 64, 40,000 steps), so
that the whole grid of 35 models fits in about half an hour on a shared 2-core CPU. Each task stores its row in
``<out>/results/<name>.json`` as soon as it finishes; a restarted study redoes only the
missing ones, resuming interrupted runs from their checkpoints::

    tables = run_study(StudyConfig(out="docs/studies/nuclear"), LocalExecutor())
    tables["fractions"], tables["tasks"]
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from physlens.errors import PhyslensError
from physlens.nuclear.embeddings import index_structure_row
from physlens.nuclear.targets import DEFAULT_TASKS
from physlens.nuclear.train import NuclearTrainConfig, load, train_or_resume
from physlens.studies.bookkeeping import record_config, run_tasks
from physlens.studies.executors import DaskExecutor, LocalExecutor
from physlens.runs import atomic_write_text


@dataclass(frozen=True)
class StudyConfig:
    """The grid of the nuclear study and its training preset.

    Attributes:
        fractions: training fractions of the fraction grid, each in (0, 1).
        seeds: seeds per fraction (split and initialisation).
        single_tasks: tasks that get a single-task model.
        single_fraction: training fraction of the single- vs multi-task comparison
            (must be one of ``fractions``).
        single_seed: seed of that comparison (must be one of ``seeds``).
        steps: optimiser steps per model (the study preset; default training uses 40,000).
        width: model width D (study preset 32; the default preset uses 64).
        depth: number of blocks (default preset: 2).
        binding_target: what the B readout predicts (``per_nucleon`` or ``total``); the
            committed study used ``per_nucleon``.
        b_weight: loss weight of the task B (the other tasks weigh 1); the committed study used 3.
        out: study folder (``results/``, ``runs/``, tables, report).
    """

    fractions: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    seeds: tuple[int, ...] = (0, 1, 2)
    single_tasks: tuple[str, ...] = DEFAULT_TASKS
    single_fraction: float = 0.8
    single_seed: int = 0
    steps: int = 1500
    width: int = 32
    depth: int = 2
    binding_target: str = "per_nucleon"
    b_weight: float = 3.0
    out: str = "runs/nuclear-study"

    def __post_init__(self):
        if self.single_fraction not in self.fractions or self.single_seed not in self.seeds:
            raise PhyslensError(f"single_fraction {self.single_fraction} and single_seed {self.single_seed} must be "
                                f"among fractions {list(self.fractions)} and seeds {list(self.seeds)}")
        if self.steps < 250:
            raise PhyslensError(f"steps must be >= 250 (one logging interval); got {self.steps}")

    def tasks(self) -> list["Task"]:
        """The fraction grid of ``single_seed``, the single-task models, then the other seeds' grids
        (an interrupted study has both comparisons for one seed first)."""
        first = [Task(f, self.single_seed, DEFAULT_TASKS, self) for f in self.fractions]
        single = [Task(self.single_fraction, self.single_seed, (t,), self) for t in self.single_tasks]
        rest = [Task(f, s, DEFAULT_TASKS, self) for s in self.seeds if s != self.single_seed for f in self.fractions]
        return first + single + rest


@dataclass(frozen=True)
class Task:
    """One model: training fraction, seed and its tasks."""

    fraction: float
    seed: int
    tasks: tuple[str, ...]
    study: StudyConfig

    @property
    def name(self) -> str:
        """The model's name (its run folder and result file), e.g. ``multi-f80-s0`` or ``single-S_n-f80-s0``."""
        kind = "multi" if len(self.tasks) > 1 else f"single-{self.tasks[0]}"
        return f"{kind}-f{round(100 * self.fraction):02d}-s{self.seed}"

    def train_config(self) -> NuclearTrainConfig:
        """The ``NuclearTrainConfig`` of this model: its tasks (B weighted ``b_weight`` when among them), fraction
        and seed (split and initialisation), with the study's steps, width, depth and ``binding_target``."""
        weights = {"B": self.study.b_weight} if "B" in self.tasks else {}
        return NuclearTrainConfig(tasks=self.tasks, task_weights=weights, binding_target=self.study.binding_target,
                                  train_fraction=self.fraction,
                                  split_seed=self.seed, seed=self.seed, steps=self.study.steps,
                                  width=self.study.width, depth=self.study.depth)


def run_task(task: Task) -> str:
    """Train (or resume) one model, measure it, store its row; returns the result path."""
    out = Path(task.study.out)
    result = out / "results" / f"{task.name}.json"
    if result.exists():
        return str(result)
    run_dir = out / "runs" / task.name
    row = {"name": task.name, "kind": "multi" if len(task.tasks) > 1 else "single", "fraction": task.fraction,
           "seed": task.seed, "tasks": ",".join(task.tasks)}
    start = time.perf_counter()
    try:
        cfg = task.train_config()
        run = train_or_resume(cfg, run_dir, progress=False)
        run = run if run.model is not None else load(run.path)
        status = run.status
        row |= {"state": status["state"], "steps": status["step"],
                "semf_val_rms_B": run.reference["semf"]["val_rms"]}
        row |= {k: v for k, v in status.items() if k.startswith(("val_rms_", "train_rms_"))}
        if status["state"] == "finished":
            row |= index_structure_row(run.variables, run.system.nuclei)
    except Exception as exc:  # a failing model is data, not the end of the study
        row |= {"state": "failed", "reason": f"{type(exc).__name__}: {exc}".splitlines()[0]}
        traceback.print_exc()
    row["seconds"] = time.perf_counter() - start
    atomic_write_text(result, json.dumps(row, indent=1))
    return str(result)


def pending(study: StudyConfig) -> list[Task]:
    """Tasks whose result is not stored yet."""
    return [t for t in study.tasks() if not (Path(study.out) / "results" / f"{t.name}.json").exists()]


def run_study(study: StudyConfig, executor: LocalExecutor | DaskExecutor,
              progress: bool = True) -> dict[str, pd.DataFrame]:
    """Run every pending task through ``executor`` (inside its context), then ``collect``."""
    record_config(study)
    run_tasks(executor, run_task, pending(study), len(study.tasks()), "nuclear study", progress)
    return collect(study)


def collect(study: StudyConfig) -> dict[str, pd.DataFrame]:
    """``models`` (every stored row), ``fractions`` (the fraction grid) and ``tasks`` (held-out
    RMS per task, MeV, single- against multi-task at the comparison's fraction and seed)."""
    files = sorted((Path(study.out) / "results").glob("*.json"))
    models = pd.DataFrame([json.loads(p.read_text()) for p in files])
    if models.empty:
        return {"models": models, "fractions": models, "tasks": models}
    fractions = models[models.kind == "multi"].sort_values(["fraction", "seed"]).reset_index(drop=True)
    rows = []
    multi = fractions[(fractions.fraction == study.single_fraction) & (fractions.seed == study.single_seed)]
    for task in study.single_tasks:
        single = models[(models.kind == "single") & (models.tasks == task)]
        column = f"val_rms_{task}"
        rows.append({"task": task,
                     "single_val_rms_MeV": float(single[column].iloc[0]) if len(single) and column in single else None,
                     "multi_val_rms_MeV": float(multi[column].iloc[0]) if len(multi) and column in multi else None})
    return {"models": models, "fractions": fractions, "tasks": pd.DataFrame(rows)}
