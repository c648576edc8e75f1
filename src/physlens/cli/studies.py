"""``physlens study``: the hidden-unit studies (many models through an executor, resumable).

    physlens study hidden-units --sizes 8-20 --alphas 2-5 --seeds 10 --out runs/hidden-units
    physlens study hidden-units --protocol rbm-paper --snapshot-every 250 --steps 8000   # the paper's protocol
    physlens study hidden-units-cases                     # the paper's N = 4, 8 case studies and α study at N = 10
    physlens study hidden-units-compare --study physlens-sr=DIR --study rbm-paper=DIR
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from physlens.cli.common import cli_errors, console, frame_table, int_list, note
from physlens.errors import PhyslensError

study_app = typer.Typer(help="Run a study: many models through an executor, resumable.", no_args_is_help=True)


@study_app.command("hidden-units")
@cli_errors
def study_hidden_units(
    sizes: Annotated[str, typer.Option(help="ring sizes: 8-20 (even sizes) or 8,12,16")] = "8-20",
    alphas: Annotated[str, typer.Option(help="hidden-unit densities: 2-5 or 2,4")] = "2-5",
    seeds: Annotated[int, typer.Option(help="seeds per (N, alpha)")] = 10,
    tau: float = 0.3,
    steps: Annotated[int, typer.Option(help="maximum SR steps per model")] = 1500,
    stop_at_tol: Annotated[bool, typer.Option("--stop-at-tol/--fixed-steps", help="stop each model once ε < 1e-3, or train all --steps")] = True,
    protocol: Annotated[str, typer.Option(help="training protocol: physlens-sr or rbm-paper (arXiv 2603.24223)")] = "physlens-sr",
    snapshot_every: Annotated[int, typer.Option(help="keep every model's parameters every this many steps, for the analysis along training (0: none)")] = 0,
    executor: Annotated[str, typer.Option(help="local or dask")] = "local",
    workers: Annotated[int, typer.Option(help="processes (local) or Dask workers")] = 1,
    scheduler: Annotated[Optional[str], typer.Option(help="address of an existing Dask scheduler")] = None,
    out: Annotated[Path, typer.Option(help="study folder (an existing study with the same settings is resumed)")] = Path("runs/hidden-units"),
    force: Annotated[bool, typer.Option("--force", help="move an --out holding something else aside instead of refusing")] = False,
    report_only: Annotated[bool, typer.Option("--report-only", help="write the tables, fits and report of the models stored so far in --out (an interrupted or unfinished study, same settings); train nothing")] = False,
    progress: bool = True,
) -> None:
    """Train and analyse RBMs over sizes, alphas and seeds; tables, fits and report in OUT."""
    from physlens.folders import FolderLock, claim
    from physlens.quantum import protocols
    from physlens.studies import hidden_units, hidden_units_summary
    from physlens.studies.executors import make_executor

    size_list, alpha_list = int_list(sizes, step=2), int_list(alphas)
    bad = [n for n in size_list if n < 4 or n % 2]
    protocols.get(protocol)
    if snapshot_every < 0:
        raise PhyslensError(f"--snapshot-every must be >= 0 (0: keep none); got {snapshot_every}")
    if bad or seeds < 1 or not alpha_list or min(alpha_list) < 1:
        raise PhyslensError(f"sizes must be even and >= 4, alphas >= 1, seeds >= 1; got sizes={list(size_list)}, "
                            f"alphas={list(alpha_list)}, seeds={seeds}")
    study = hidden_units.StudyConfig(sizes=size_list, alphas=alpha_list, seeds=seeds, extra=(), tau=tau, steps=steps,
                                     stop_at_tol=stop_at_tol, protocol=protocol, snapshot_every=snapshot_every, out=str(out))
    config = {k: v for k, v in vars(study).items() if k != "out"}
    if report_only:  # reads stored results only and writes every table atomically: safe beside a running study
        tables = hidden_units.stored_tables(study)
        grid = {(t.n, t.alpha, t.seed) for t in study.tasks()}
        stored = sum(key in grid for key in zip(tables["models"].N, tables["models"].alpha, tables["models"].seed))
        other = len(tables["models"]) - stored
        meta = [f"{stored} of the {len(grid)} models of this grid stored so far (--report-only; the rest not trained "
                "yet)" + (f"; {other} more from earlier, larger grids in this folder" if other else "")]
        summaries = hidden_units_summary.write_study_outputs(out, tables, meta, config)
    else:
        pool = make_executor(executor, workers, scheduler)
        _moved(out, claim(out, "hidden-units study", force=force))
        with FolderLock(out):
            tables = hidden_units.run_study(study, pool, progress=progress)
            meta = [f"executor: {executor} ({workers} workers)"]
            summaries = hidden_units_summary.write_study_outputs(out, tables, meta, config)
    models = tables["models"]
    console.print(f"{int(models['converged'].sum())} of {len(models)} models converged (ε < {study.tol})")
    fits = summaries["fits"].rename(columns={"alpha": "α", "a_se": "σ(a)", "k_se": "σ(k)", "r2": "R²", "n_points": "models"})
    console.print(frame_table(fits, "m′ = a·N^k per α (m′ important units of N sites; a, k dimensionless)"))
    console.print(f"report: {out / 'report.html'}")


@study_app.command("hidden-units-cases")
@cli_errors
def study_hidden_units_cases(
    protocol: Annotated[str, typer.Option(help="training protocol: rbm-paper (arXiv 2603.24223) or physlens-sr")] = "rbm-paper",
    steps: Annotated[int, typer.Option(help="step budget of the case models (trained until ε < 1e-3)")] = 8000,
    alpha_steps: Annotated[int, typer.Option(help="steps of every model of the α study at N = 10 (the paper: 1,500)")] = 1500,
    out: Annotated[Path, typer.Option(help="folder (an existing one with the same settings is resumed)")] = Path("runs/hidden-units-cases"),
    force: Annotated[bool, typer.Option("--force", help="move an --out holding something else aside instead of refusing")] = False,
    progress: bool = True,
) -> None:
    """The paper's case studies: N = 4 and 8 single models, and α = 1 … 4 at N = 10 over 1,500 steps."""
    from physlens.folders import FolderLock, claim
    from physlens.quantum import protocols
    from physlens.studies.executors import make_executor
    from physlens.studies.hidden_units_cases import KIND, run_cases

    protocols.get(protocol)
    if min(steps, alpha_steps) < 1:
        raise PhyslensError(f"--steps and --alpha-steps must be >= 1; got {steps}, {alpha_steps}")
    _moved(out, claim(out, KIND, force=force))
    with FolderLock(out):
        table = run_cases(out, lambda: make_executor("local", 1, None), protocol, steps, alpha_steps, progress)
    console.print(frame_table(table, "α study at N = 10 (energies in J, variance in J²)"))
    console.print(f"report: {out / 'report.html'}")


@study_app.command("hidden-units-compare")
@cli_errors
def study_hidden_units_compare(
    study: Annotated[list[str], typer.Option(help="PROTOCOL=FOLDER of a finished hidden-unit study, repeatable (two or more)")],
    out: Annotated[Path, typer.Option(help="folder for the comparison tables and report.html (an earlier comparison of the same studies is redrawn)")] = Path("runs/hidden-units-compare"),
    force: Annotated[bool, typer.Option("--force", help="move an --out holding something else aside instead of refusing")] = False,
) -> None:
    """Set hidden-unit studies trained under different protocols side by side, with the paper's numbers."""
    from physlens.folders import claim
    from physlens.studies.hidden_units_compare import KIND, write_comparison

    pairs = [s.split("=", 1) for s in study]
    if len(pairs) < 2 or any(len(p) != 2 or not p[0] or not p[1] for p in pairs):
        raise PhyslensError(f"--study must be given twice or more as PROTOCOL=FOLDER; got {study}")
    _moved(out, claim(out, KIND, force=force))
    tables = write_comparison(out, dict(pairs))
    shown = tables["by_alpha"][["protocol", "N", "alpha", "converged", "models", "frac_mean", "rho_mean", "paper_frac"]]
    console.print(frame_table(shown, "m′/M and ρ per protocol, N and α (mean over converged seeds)"))
    console.print(f"report: {out / 'report.html'}")


def _moved(path: Path, aside: Optional[Path]) -> None:
    if aside is not None:
        note(f"moved the earlier {path} aside to {aside}")


def register(app: typer.Typer) -> None:
    """Add the ``study`` commands to the ``physlens`` app."""
    app.add_typer(study_app, name="study")
