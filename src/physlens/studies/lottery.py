"""The lottery-ticket study: IMP with rewinding and its controls on NQS, with exact energies where the basis fits.

Composes ``physlens.lens.lottery`` (the IMP loop), ``physlens.quantum.masked_training``
(exact full-sum Adam training of all seeds × arms of a level in one compiled run,
batched by ``jax.vmap`` or ``jax.lax.map``) or ``physlens.quantum.vmc_masked_training``
(NetKet's driver, SR or Adam, network by network) and a system with an FFNN (one hidden
ReLU layer, summed output). Energies are full sums up to 2^18 basis states; beyond
(``evaluation = "sampled"``) Monte Carlo estimates against a reference energy
(``physlens.quantum.monte_carlo_problem``). What a study is, and its presets: ``physlens.studies.lottery_config``.

Usage::

    config = StudyConfig.preset("tfim-4x4", rounds=10)
    result = run_study(config, "runs/lottery-tfim")
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import flax.linen as nn
import jax
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from physlens.errors import PhyslensError
from physlens.folders import FolderLock
from physlens.lens.lottery import (GROWABLE, LotteryResult, TrainedBatch, TrainFn, held_controls, run_lottery,
                                  saved_rows)
from physlens.lens.mask import Mask, stack_masks
from physlens.quantum.masked_training import (EnergyAndGrad, ExactProblem, init_params, make_energy_and_grad,
                                              stack_trees, train_masked, unstack_trees)
from physlens.quantum.monte_carlo_problem import MonteCarloProblem
from physlens.quantum.registry import load_variables
from physlens.quantum.vmc_masked_training import train_masked_vmc
from physlens.provenance import this_sitting
from physlens.runs import atomic_write_text
from physlens.studies.lottery_config import StudyConfig

REINIT_OFFSET = 1000
"""The fresh initialisation T(θ_rand, ·) of seed s uses PRNGKey(s + REINIT_OFFSET)."""


def batch_trainer(config: StudyConfig, problem: ExactProblem | MonteCarloProblem, energy_and_grad: EnergyAndGrad | None,
                  steps: int, snapshot_step: int | None = None) -> TrainFn:
    """The ``TrainFn`` of the study: K (parameters, mask) pairs trained ``steps`` steps — Adam on full sums in one
    compiled run of ``energy_and_grad`` (shared by every level), or NetKet's driver network by network (exact energies
    by ``energy_and_grad``, or Monte Carlo ones when it is None) — keeping the parameters after ``snapshot_step``
    steps when given."""
    model, system = config.build_model(), config.build_system()

    def train(params: list, masks: list[Mask]) -> TrainedBatch:
        if not config.batched:
            result = train_masked_vmc(model, system, problem, params, masks, steps=steps,
                                      settings=config.vmc_settings(), energy_and_grad=energy_and_grad,
                                      snapshot_step=snapshot_step)
        else:
            result = train_masked(model, problem, stack_trees(params), stack_masks(masks), steps=steps,
                                  learning_rate=config.learning_rate, chunk=config.chunk,
                                  snapshot_step=snapshot_step, energy_and_grad=energy_and_grad)
        rewound = unstack_trees(result.snapshot_K) if result.snapshot_K is not None else None
        return TrainedBatch(unstack_trees(result.params_K), result.energy_K, result.rel_error_K, rewound,
                            result.energy_sem_K)

    return train


def recorded_settings(recorded: dict) -> dict:
    """The ``StudyConfig`` settings a ``study.json`` records, as JSON values; a setting the folder predates counts
    as its default."""
    defaults = json.loads(json.dumps(dataclasses.asdict(StudyConfig()), default=list))
    return {k: recorded.get(k, default) for k, default in defaults.items()}


def check_resumable(config: StudyConfig, out: Path | str) -> None:
    """Refuse (one line, nothing written) a folder whose ``study.json`` records other settings than ``config``;
    settings a folder predates count as their defaults. The controls and their levels may differ: the folder grows
    (``physlens.lens.lottery.GROWABLE``)."""
    file = Path(out) / "study.json"
    if not file.is_file():
        return
    try:
        recorded = json.loads(file.read_text())
    except (OSError, ValueError):
        raise PhyslensError(f"{file} is corrupt; allowed: a new --out") from None
    wanted, settings = json.loads(json.dumps(dataclasses.asdict(config), default=list)), recorded_settings(recorded)
    changed = sorted(k for k, v in wanted.items() if settings[k] != v and k not in GROWABLE)
    if changed:
        raise PhyslensError(f"{out} holds a lottery study with other settings ({', '.join(changed)}); "
                            "allowed: the same settings to resume it, or a new --out")


def study_inits(config: StudyConfig, model: nn.Module, n_sites: int) -> tuple[list, list]:
    """θ_0 of every seed (kernels times ``init_scale``; the ``start`` network when given) and the re-initialisations
    of the ``reinit`` control (seeds offset by ``REINIT_OFFSET``), one parameter pytree per seed each."""
    def unstack(tree):
        return unstack_trees(jax.tree_util.tree_map_with_path(
            lambda path, leaf: leaf * config.init_scale if path[-1].key == "kernel" else leaf, tree))

    init = unstack(init_params(model, n_sites, config.seeds))
    reinit = unstack(init_params(model, n_sites, [s + REINIT_OFFSET for s in config.seeds]))
    if config.start:
        trained = load_variables(model, Path(config.start), n_sites)["params"]
        init = [jax.tree_util.tree_map(np.asarray, trained) for _ in config.seeds]
    return init, reinit


def saved_levels(out: Path | str) -> pd.DataFrame:
    """One row per network saved under ``out/levels`` (level, arm, seed, density, energy in J, rel_error, and
    energy_sem in J where sampled), level by level and within a level as its ``level.json`` orders them; the
    lens's generic names (objective, error) become the physics ones."""
    return pd.DataFrame(saved_rows(Path(out) / "levels")).rename(
        columns={"objective": "energy", "error": "rel_error", "objective_sem": "energy_sem"})


def write_levels_table(out: Path | str) -> None:
    """Write ``out/levels.csv``: `saved_levels` with every digit. Kept current while a study runs, so a stopped
    study's table holds every network it saved."""
    atomic_write_text(Path(out) / "levels.csv", saved_levels(out).to_csv(index=False))


def _recorded(out: Path) -> dict:
    """What an existing ``study.json`` in ``out`` records (empty for a new folder)."""
    file = out / "study.json"
    return json.loads(file.read_text()) if file.is_file() else {}


def run_study(config: StudyConfig, out: Path | str, progress: bool = False) -> LotteryResult:
    """Run or resume the study into ``out`` (locked while it runs): every level's masks, parameters and
    exact energies; ``progress`` shows a bar over the pruning levels on stderr."""
    out = Path(out)
    check_resumable(config, out)
    with FolderLock(out):
        return _run_locked(config, out, progress)


def _run_locked(config: StudyConfig, out: Path, progress: bool) -> LotteryResult:
    recorded = _recorded(out)
    problem = config.build_problem(recorded)
    model = config.build_model()
    init, reinit = study_inits(config, model, problem.n_sites)
    out.mkdir(parents=True, exist_ok=True)
    exact = isinstance(problem, ExactProblem)
    held = held_controls(recorded_settings(recorded), dataclasses.asdict(config)) if recorded else {}
    study = {**recorded, **dataclasses.asdict(config), **held, "e0": problem.e0, "unit": problem.unit,
             "energy_method": "exact full sum over the basis" if exact else problem.method,
             **({} if exact else {"reference": problem.reference}), "training_method": config.training_method,
             "sittings": [*recorded.get("sittings", []), this_sitting()]}
    atomic_write_text(out / "study.json", json.dumps(study, indent=1, default=list))
    energy_and_grad = make_energy_and_grad(model, problem, config.chunk, config.batching) if exact else None
    with tqdm(total=config.rounds + 1, desc="pruning levels trained", unit="level", file=sys.stderr,
              disable=not progress) as bar:
        result = run_lottery(out / "levels", init_params=init, reinit_params=reinit,
                             train=batch_trainer(config, problem, energy_and_grad, config.steps),
                             train_dense=batch_trainer(config, problem, energy_and_grad, config.level0_steps,
                                                       config.rewind_step or None),
                             train_control=(batch_trainer(config, problem, energy_and_grad, config.control_steps)
                                            if config.control_steps else None),
                             config=config.lottery(), seeds=config.seeds, one_by_one=not config.batched,
                             on_level=lambda level: bar.update(1), on_saved=lambda level: write_levels_table(out))
    write_levels_table(out)
    return result
