"""The hidden-unit study of RBM quantum states on Heisenberg rings.

Reproduces "Hidden Unit Interpretability in RBM Quantum States: Encoding
Antiferromagnetic Order in Heisenberg Spin Rings": RBMs trained by VMC on periodic
rings, each hidden unit scored against the AFM pattern, ablated and retained alone;
units are important when removing them moves the energy or C_zz(r) by more than τ.

One model: ``analyse(system, model, variables)`` (exact evaluation over the S^z = 0
basis). The study: ``run_study(StudyConfig(...), executor)`` trains and analyses every
(N, α, seed) as an independent task and stores each task's rows in
``<out>/results/<task>.parquet`` as soon as it finishes, so a killed study restarted
with the same command redoes only unfinished models; ``collect(out)`` concatenates
them into ``models.parquet`` and ``units.parquet``.

    analysis = analyse_run(load("runs/ring8"))
    run_study(StudyConfig(sizes=(8, 10), alphas=(2, 3), seeds=2, out="study"), LocalExecutor())
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flax.linen as nn
import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.folders import lock_holder, lock_is_stale
from physlens.lens.patterns import afm_pattern, pattern_scores, standard_patterns
from physlens.lens.units import DEFAULT_TAU, UnitScan, UnitSplit, scan_units, split_units
from physlens.quantum import protocols
from physlens.quantum.evaluators import exact_evaluator
from physlens.quantum.observables import czz_per_config, staggered_amplitude
from physlens.quantum.registry import describe, entry_for, lens_of
from physlens.quantum.systems import SpinSystem
from physlens.quantum.train import TrainConfig, resume, train
from physlens.studies.bookkeeping import record_config, run_tasks, write_parquet
from physlens.studies.executors import DaskExecutor, LocalExecutor
from physlens.studies.hidden_units_checks import exact_checks
from physlens.runs import Run


@dataclass(frozen=True)
class ModelAnalysis:
    """Everything the study measures on one trained RBM (exact summation).

    Attributes:
        scan: single-unit ablations and retentions.
        split: energy and C_zz of the important units alone and of the rest alone.
        s_afm_M: AFM pattern score of each unit, Pearson r(W_j, (−1)^i).
        weights_MN: the hidden-unit weight vectors.
        e0: exact ground-state energy, in ``scan.unit``.
        czz_exact_R: exact ground-state C_zz(r).
        tau: importance threshold.
    """

    scan: UnitScan
    split: UnitSplit
    s_afm_M: np.ndarray
    weights_MN: np.ndarray
    e0: float
    czz_exact_R: np.ndarray
    tau: float

    @property
    def important_M(self) -> np.ndarray:
        """Boolean mask ``(M,)`` of the important units: energy or correlation impact > ``tau``."""
        return self.scan.important(self.tau)

    @property
    def staggered_full(self) -> float:
        """Néel character A of the full model's C_zz(r) (``staggered_amplitude``: 1 fully staggered, < 0 inverted)."""
        return float(staggered_amplitude(self.scan.observable_full_R))

    @property
    def staggered_removed_M(self) -> np.ndarray:
        """A of C_zz(r) with unit j removed, ``(M,)``."""
        return staggered_amplitude(self.scan.observable_ablated_MR)

    @property
    def phase_inverted_M(self) -> np.ndarray:
        """Whether removing unit j inverts the staggered pattern (A changes sign), ``(M,)``."""
        return np.sign(self.staggered_removed_M) * np.sign(self.staggered_full) < 0

    def model_row(self) -> dict:
        """The per-model numbers of the study (energies in ``scan.unit``)."""
        m = int(self.important_M.sum())
        e_full = self.scan.energy_full
        return {"M": self.scan.n_units, "m_important": m, "frac_important": m / self.scan.n_units,
                "energy": e_full, "e0": self.e0, "eps": abs(e_full - self.e0) / abs(self.e0),
                "energy_important": self.split.energies["important"], "energy_rest": self.split.energies["rest"],
                "rho": self.scan.rho, "tau": self.tau, "staggered_full": self.staggered_full,
                "n_phase_inverted": int(self.phase_inverted_M.sum()), "unit": self.scan.unit, "exact": self.scan.exact,
                "czz_full": self.scan.observable_full_R.tolist(), "czz_exact": self.czz_exact_R.tolist(),
                "czz_important": self.split.observables["important"].tolist(),
                "czz_rest": self.split.observables["rest"].tolist(),
                "mean_abs_s_afm_important": float(np.nanmean(np.abs(self.s_afm_M[self.important_M]))) if m else np.nan,
                "mean_abs_s_afm_rest": float(np.nanmean(np.abs(self.s_afm_M[~self.important_M]))) if m < self.scan.n_units else np.nan}

    def unit_frame(self) -> pd.DataFrame:
        """One row per hidden unit: S_AFM, ΔE, impacts, retention energy, importance, ΔC_zz(r)."""
        s = self.scan
        return pd.DataFrame({"unit_index": np.arange(s.n_units), "s_afm": self.s_afm_M, "delta_energy": s.delta_energy_M,
                             "energy_impact": s.energy_impact_M, "czz_impact": s.observable_impact_M,
                             "energy_retained": s.energy_retained_M, "important": self.important_M,
                             "important_by": s.important_by(self.tau), "staggered_removed": self.staggered_removed_M,
                             "weight_norm": np.linalg.norm(np.asarray(self.weights_MN), axis=1),
                             "phase_inverted": self.phase_inverted_M,
                             "delta_czz": list(s.delta_observable_MR)})


def analyse(system: SpinSystem, model: nn.Module, variables: Any, tau: float = DEFAULT_TAU, hook: str | None = None,
            weights_MN: np.ndarray | None = None, czz_range: tuple[int, ...] | None = None) -> ModelAnalysis:
    """Pattern scores, single-unit ablation/retention and the important/rest split of one model (exact sums).

    ``hook``: the site whose components are the hidden units (default: the model's units in the registry,
    ``hidden.post`` for physlens's RBM, ``Dense`` for NetKet's); ``weights_MN``: the weights feeding them
    (default: the registry's; None for a hook the registry does not know, leaving S_AFM undefined);
    ``czz_range``: the distances r summed in the C_zz impact (None: every r = 0 … N/2).
    """
    known = entry_for(model).units(model)
    if hook is None:
        if known is None:
            sites = ", ".join(lens_of(model, variables).hook_names(np.ones((1, system.n_sites))))
            raise PhyslensError(f"{describe(model)} has no hidden units physlens knows; pass hook= one of: {sites}")
        hook = known[0]
    if weights_MN is None and known is not None and hook == known[0]:
        weights_MN = known[1](variables)
    evaluator = exact_evaluator(system, model, variables)
    scan = scan_units(evaluator, hook, "czz", czz_range)
    split = split_units(evaluator, scan, tau)
    if weights_MN is None:
        weights_MN = np.full((scan.n_units, system.n_sites), np.nan)
    s_afm_M = pattern_scores(np.real(weights_MN), {"afm": afm_pattern(system.n_sites)}).scores_MP[:, 0]
    ref = system.exact()
    czz_exact_R = (np.abs(ref.state) ** 2) @ czz_per_config(system, np.asarray(system.hilbert.all_states()))
    return ModelAnalysis(scan, split, s_afm_M, weights_MN, ref.energy, czz_exact_R, tau)


def analyse_run(run: Run, tau: float = DEFAULT_TAU) -> ModelAnalysis:
    """``analyse`` on a loaded run (its model's hidden units from the registry)."""
    return analyse(run.system, run.model, run.variables, tau)


def pattern_table(weights_MN: np.ndarray) -> pd.DataFrame:
    """Scores of every unit against the AFM, uniform and Fourier patterns."""
    return pattern_scores(weights_MN, standard_patterns(weights_MN.shape[1])).to_frame()


@dataclass(frozen=True)
class StudyConfig:
    """The grid of the study and how each model is trained.

    Attributes:
        sizes: ring sizes N.
        alphas: hidden-unit densities α.
        seeds: number of seeds per (N, α).
        extra: further (N, α) pairs (the α = 1 models of the α-dependence at N = 10).
        tau: importance threshold of the per-model numbers (τ sweeps reuse the unit table).
        tol: convergence criterion ε < tol; models that miss it are kept, flagged, and excluded.
        steps: maximum SR steps per model.
        stop_at_tol: stop training as soon as ε < tol (True), or train all ``steps`` and
            judge convergence on the final ε (False, a fixed training budget).
        protocol: how every model is trained (``physlens.quantum.protocols``: ``physlens-sr`` or
            ``rbm-paper``); a study folder holds one protocol only.
        snapshot_every: steps between kept parameter snapshots of every model, for the analysis
            along training (0: none).
        out: study folder (``results/``, ``runs/``, tables, report).
    """

    sizes: tuple[int, ...] = (8, 10, 12, 14, 16, 18, 20)
    alphas: tuple[int, ...] = (2, 3, 4, 5)
    seeds: int = 10
    extra: tuple[tuple[int, int], ...] = ((10, 1),)
    tau: float = DEFAULT_TAU
    tol: float = 1e-3
    steps: int = 1500
    stop_at_tol: bool = True
    protocol: str = "physlens-sr"
    snapshot_every: int = 0
    out: str = "runs/hidden-units"

    def tasks(self) -> list["Task"]:
        """Every model, seed by seed: an interrupted study has every (N, α) with about as many seeds."""
        pairs = [(n, a) for n in self.sizes for a in self.alphas] + [p for p in self.extra if p not in
                                                                        [(n, a) for n in self.sizes for a in self.alphas]]
        return [Task(n, a, s, self) for s in range(self.seeds) for n, a in pairs]


def model_name(n: int, alpha: int, seed: int) -> str:
    """A study model's name (its run folder under ``runs/`` and its result files), e.g. ``N14-a2-s03``."""
    return f"N{n:02d}-a{alpha}-s{seed:02d}"


@dataclass(frozen=True)
class Task:
    """One model of the study: ring size, α and seed."""

    n: int
    alpha: int
    seed: int
    study: StudyConfig

    @property
    def name(self) -> str:
        """The model's name (its run folder and result files): ``model_name``."""
        return model_name(self.n, self.alpha, self.seed)

    def train_config(self) -> TrainConfig:
        """The ``TrainConfig`` of this model: the Heisenberg ring of N = ``n``, α and seed, under the study's
        protocol and steps, with ``tol`` = 0 unless ``stop_at_tol``, and the study's ``snapshot_every``."""
        base = TrainConfig(system="heisenberg-ring", size=self.n, alpha=float(self.alpha), seed=self.seed,
                           steps=self.study.steps)
        config = protocols.apply(self.study.protocol, base)
        return dataclasses.replace(config, tol=config.tol if self.study.stop_at_tol else 0.0,
                                   snapshot_every=self.study.snapshot_every)


GRID = ("sizes", "alphas", "seeds", "extra")
"""The settings that only say which models a study holds: a folder asked for more grows to hold them
(``bookkeeping.record_settings``); every other setting of a folder is fixed."""


def run_task(task: Task) -> str:
    """Train (or resume) and analyse one model; store its rows; return its result path.

    A model that fails (NaN energies, an exception) or does not converge is recorded
    with its reason rather than stopping the study.
    """
    out = Path(task.study.out)
    result = out / "results" / f"{task.name}.parquet"
    if result.exists():
        return str(result)
    cfg = task.train_config()
    key = {"N": task.n, "alpha": task.alpha, "seed": task.seed, "mode": cfg.mode}
    run_dir = out / "runs" / task.name
    start = time.perf_counter()
    try:
        run = resume(run_dir, progress=False) if (run_dir / "config.toml").exists() else train(cfg, run_dir, progress=False)
        status = run.status
        row = {**key, "state": status["state"], "steps": status["step"], "reason": status.get("message", ""),
               "variance": status.get("variance")}
        units = pd.DataFrame()
        if status["state"] != "failed":
            analysis = analyse_run(run, task.study.tau)
            row.update(analysis.model_row())
            units = analysis.unit_frame().assign(**{k: key[k] for k in ("N", "alpha", "seed")})
        history = run.metrics()[["step", "energy", "variance", "eps"]].assign(N=task.n, alpha=task.alpha, seed=task.seed)
        checks = exact_checks(run).assign(N=task.n, alpha=task.alpha, seed=task.seed)
    except Exception as exc:  # a failing model is data, not the end of the study
        row = {**key, "state": "failed", "steps": 0, "reason": f"{type(exc).__name__}: {exc}".splitlines()[0]}
        units, history, checks = pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
        traceback.print_exc()
    row["converged"] = row["state"] != "failed" and row.get("eps", np.inf) < task.study.tol
    seconds = time.perf_counter() - start
    for kind, frame in (("units", units), ("history", history), ("checks", checks)):
        write_parquet(out / kind / f"{task.name}.parquet", frame)
    write_parquet(out / "timings" / f"{task.name}.parquet", pd.DataFrame([{**key, "seconds": seconds}]))
    write_parquet(result, pd.DataFrame([row]))
    return str(result)


def pending(study: StudyConfig) -> list[Task]:
    """Tasks whose result is not stored yet."""
    return [t for t in study.tasks() if not (Path(study.out) / "results" / f"{t.name}.parquet").exists()]


def run_study(study: StudyConfig, executor: LocalExecutor | DaskExecutor,
              progress: bool = True) -> dict[str, pd.DataFrame]:
    """Run every pending task through ``executor`` (inside its context), then ``collect``."""
    record_config(study, grid=GRID)
    todo = pending(study)
    run_tasks(executor, run_task, todo, len(study.tasks()), "hidden-unit study", progress,
              watch=functools.partial(training_steps, Path(study.out) / "runs", [t.name for t in todo]))
    return collect(study.out)


def training_steps(runs: Path, names: list[str]) -> str:
    """The models among ``names`` now training in ``runs`` and the step of their last checkpoint, in one line
    (e.g. ``N14-a3-s00 at step 2,400; N14-a4-s00 at step 1,900``). A model counts as training when its status says
    so and a live process holds its folder's lock: a run whose worker died still says "running"."""
    busy = []
    for name in names:
        try:
            status = json.loads((runs / name / "status.json").read_text())
        except (OSError, ValueError):
            continue
        holder = lock_holder(runs / name)
        if status.get("state") == "running" and holder is not None and not lock_is_stale(holder):
            busy.append(f"{name} at step {status.get('step', 0):,}")
    return "; ".join(busy)


def stored_tables(study: StudyConfig) -> dict[str, pd.DataFrame]:
    """The tables of the models stored so far in ``study.out`` (``collect``), training nothing: the report of an
    interrupted or unfinished study. A folder holding no study, or one with other settings, is refused."""
    if not (Path(study.out) / "study.json").is_file():
        raise PhyslensError(f"{study.out} holds no hidden-unit study to report on; run the study first")
    record_config(study, grid=GRID)
    tables = collect(study.out)
    if not len(tables["models"]):
        raise PhyslensError(f"{study.out} holds no finished model yet; nothing to report")
    return tables


def _backfill_checks(out: Path) -> None:
    """Store the exact checks of finished models that have a run folder but no ``checks/`` file (models
    stored before the checks were recorded)."""
    for result in sorted((out / "results").glob("*.parquet")):
        target, run_dir = out / "checks" / result.name, out / "runs" / result.stem
        if target.exists() or not (run_dir / "status.json").is_file():
            continue
        row = pd.read_parquet(result).iloc[0]
        checks = exact_checks(Run.open(run_dir)).assign(N=row["N"], alpha=row["alpha"], seed=row["seed"])
        write_parquet(target, checks)


def collect(out: str | Path) -> dict[str, pd.DataFrame]:
    """Concatenate stored task rows into ``models``, ``units``, ``history``, ``checks`` (the exact checks of
    the stopping rule, ``hidden_units_checks``) and ``timings`` tables (sorted by N, α, seed) and write them
    as Parquet beside the results."""
    out = Path(out)
    _backfill_checks(out)
    tables = {}
    for kind in ("results", "units", "history", "checks", "timings"):
        files = sorted((out / kind).glob("*.parquet"))
        frames = [f for f in (pd.read_parquet(p) for p in files) if len(f)]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if len(frame):
            frame = frame.sort_values(["N", "alpha", "seed"], kind="stable").reset_index(drop=True)
        name = "models" if kind == "results" else kind
        tables[name] = frame
        write_parquet(out / f"{name}.parquet", frame)
    return tables
