"""The hidden-unit paper's small-system case studies, run under a named protocol.

Two parts, each an ordinary resumable hidden-unit study inside ``out``:

- ``cases/``: one model per ring size N = 4 and 8 (α = 2, seed 0), trained until ε < 1e-3,
  each with a single-model page (weight patterns and S_AFM, ΔE per unit, C_zz(r) after each
  removal with the phase-inversion measure, single-unit retention, energy- against
  correlation-impact) at ``cases/<task>.html``;
- ``alpha/``: N = 10 at α = 1 … 4 for a fixed 1,500 steps (the paper's α study): the
  convergence curves, final energy and variance, on ``report.html``.

    run_cases("docs/studies/hidden-units-paper/cases", lambda: LocalExecutor(1))
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from physlens.quantum.registry import describe
from physlens.quantum.train import load
from physlens.report.hidden_units import cases_report, model_report
from physlens.report.html import Report
from physlens.runs import Run
from physlens.studies import hidden_units
from physlens.studies.bookkeeping import record_settings
from physlens.studies.executors import DaskExecutor, LocalExecutor
from physlens.studies.hidden_units_summary import write_study_outputs

KIND = "hidden-units case study"
"""The folder kind of a case-study folder (``physlens.folders``)."""
CASE_SIZES = (4, 8)
CASE_ALPHA = 2
ALPHA_SIZE, ALPHA_VALUES, ALPHA_STEPS = 10, (1, 2, 3, 4), 1500
"""The paper's α study: N = 10, α = 1 … 4, 1,500 iterations (arXiv 2603.24223, Sec. on α dependence)."""


def case_studies(out: str | Path, protocol: str = "rbm-paper", steps: int = 8000,
                 alpha_steps: int = ALPHA_STEPS) -> tuple[hidden_units.StudyConfig, ...]:
    """The two studies: the case models (trained until ε < 1e-3 within ``steps``) and the α study
    (``alpha_steps`` steps each)."""
    out = Path(out)
    cases = hidden_units.StudyConfig(sizes=CASE_SIZES, alphas=(CASE_ALPHA,), seeds=1, extra=(), steps=steps,
                                     protocol=protocol, out=str(out / "cases"))
    alpha = hidden_units.StudyConfig(sizes=(ALPHA_SIZE,), alphas=ALPHA_VALUES, seeds=1, extra=(), steps=alpha_steps,
                                     stop_at_tol=False, protocol=protocol, out=str(out / "alpha"))
    return cases, alpha


def case_page(run: Run, tau: float) -> Report:
    """The single-model page of one case model (a loaded run), training curves included."""
    analysis = hidden_units.analyse_run(run, tau)
    status = run.status
    meta = [f"{run.path.name}: {describe(run.model)}, protocol {run.config.get('protocol', 'custom')}",
            f"status: {status['state']} after {status['step']} steps; exact E0 = {analysis.e0:.10f} {analysis.scan.unit}",
            "versions: " + ", ".join(f"{k} {v}" for k, v in run.versions.items())]
    return model_report(f"Hidden units of the N = {run.system.n_sites} case model", meta, run.metrics(), analysis,
                        hidden_units.pattern_table(analysis.weights_MN), config=run.config,
                        nav=[("report.html", "case study")])


def run_cases(out: str | Path, executor_factory: Callable[[], LocalExecutor | DaskExecutor],
              protocol: str = "rbm-paper", steps: int = 8000, alpha_steps: int = ALPHA_STEPS,
              progress: bool = True) -> pd.DataFrame:
    """Train (or resume) both studies, write their reports and a page per case model; returns the α table
    (per α at N = 10: final energy in J, ε, variance in J², m′/M, ρ, state)."""
    record_settings(out, KIND, {"protocol": protocol, "steps": steps, "alpha_steps": alpha_steps})
    pages = []
    for study in case_studies(out, protocol, steps, alpha_steps):
        tables = hidden_units.run_study(study, executor_factory(), progress=progress)
        write_study_outputs(study.out, tables, [f"protocol: {protocol}"], {k: v for k, v in vars(study).items() if k != "out"})
        pages.append(tables)
    cases = case_studies(out, protocol, steps, alpha_steps)[0]
    for task in cases.tasks():
        run_dir = Path(cases.out) / "runs" / task.name
        if (run_dir / "params.msgpack").exists():
            case_page(load(run_dir), cases.tau).write(Path(cases.out) / f"{task.name}.html")
    models = pages[1]["models"]
    columns = ["alpha", "M", "steps", "energy", "eps", "variance", "frac_important", "rho", "state"]
    table = models[[c for c in columns if c in models]]
    links = [(f"cases/{t.name}.html", f"N = {t.n}, α = {t.alpha}: single-model page") for t in cases.tasks()
             if (Path(cases.out) / f"{t.name}.html").exists()]
    links += [("cases/report.html", "the case models as a study"), ("alpha/report.html", "the α study as a study")]
    cases_report(table, pages[1]["history"], links, [f"protocol: {protocol}"]).write(Path(out) / "report.html")
    return table

