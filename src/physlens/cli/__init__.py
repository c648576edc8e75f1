"""The ``physlens`` command: parses, calls the library, prints.

Bad input (an unknown system, an odd N for the ring, alpha <= 0, a missing or
corrupt run directory, an unknown config key) prints one line to stderr and
exits with code 2; nothing is left half-written on disk.

    physlens train --system heisenberg-ring --size 8 --alpha 2 --out runs/ring8
    physlens train --resume runs/ring8
    physlens info runs/ring8
    physlens demo
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from physlens.cli.common import cli_errors, console, int_list, parse_params
from physlens.errors import PhyslensError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Mechanistic interpretability of neural networks trained on physics.")
@app.command()
@cli_errors
def train(
    system: Annotated[str, typer.Option(help="heisenberg-ring, heisenberg-square, tfim-chain, tfim-square, toric-code")] = "heisenberg-ring",
    size: Annotated[int, typer.Option(help="N for chains and rings, L for 2D lattices")] = 8,
    param: Annotated[Optional[list[str]], typer.Option("--param", "-p", help="system parameter NAME=VALUE, repeatable (J, h, pbc, sign_rule)")] = None,
    model: Annotated[str, typer.Option(help="rbm, ffnn or transformer")] = "rbm",
    alpha: Annotated[float, typer.Option(help="RBM hidden-unit density (M = alpha N)")] = 2.0,
    widths: Annotated[str, typer.Option(help="FFNN hidden widths, comma-separated")] = "16",
    activation: Annotated[str, typer.Option(help="FFNN activation: relu or log_cosh")] = "relu",
    d_model: Annotated[int, typer.Option(help="transformer residual-stream width")] = 16,
    n_layers: Annotated[int, typer.Option(help="transformer encoder layers")] = 1,
    n_heads: Annotated[int, typer.Option(help="transformer attention heads")] = 2,
    patch_size: Annotated[int, typer.Option(help="transformer patch side (sites on a chain, b×b on a square lattice)")] = 2,
    pos_encoding: Annotated[str, typer.Option(help="transformer positions: learned, relative or none")] = "learned",
    seed: int = 0,
    steps: Annotated[int, typer.Option(help="maximum SR steps")] = 1000,
    samples: Annotated[int, typer.Option(help="Monte Carlo samples per step (sampled mode)")] = 1024,
    chains: Annotated[int, typer.Option(help="Markov chains (sampled mode)")] = 16,
    exact: Annotated[bool, typer.Option("--exact/--sampled", help="full-sum (exact) or Monte Carlo training")] = True,
    tol: Annotated[float, typer.Option(help="stop when |E - E0|/|E0| < tol (0: run all steps)")] = 1e-3,
    learning_rate: float = 0.05,
    config: Annotated[Optional[Path], typer.Option(help="TOML file of TrainConfig keys; overrides the options")] = None,
    out: Annotated[Optional[Path], typer.Option(help="new run directory (default runs/<system>-<size>-<model>-s<seed>)")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="continue this interrupted run instead")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Train a neural quantum state by VMC with stochastic reconfiguration."""
    from physlens.quantum import train as training

    if resume is not None:
        run = training.resume(resume, progress=progress)
    else:
        try:
            width_list = tuple(int(w) for w in widths.split(","))
        except ValueError:
            raise PhyslensError(f"--widths must be comma-separated integers; got {widths!r}") from None
        values = dict(system=system, size=size, system_params=parse_params(param or []), model=model, alpha=alpha,
                      widths=width_list, activation=activation, d_model=d_model, n_layers=n_layers, n_heads=n_heads,
                      patch_size=patch_size, pos_encoding=pos_encoding, seed=seed, steps=steps, samples=samples, chains=chains,
                      mode="exact" if exact else "sampled", tol=tol, learning_rate=learning_rate)
        if config is not None:
            values.update(_read_config(config))
        cfg = training.TrainConfig.from_dict(values)
        out = out or Path("runs") / f"{cfg.system}-{cfg.size}-{cfg.model}-s{cfg.seed}"
        run = training.train(cfg, out, progress=progress)
    _print_summary(run)


def _read_config(path: Path) -> dict:
    from physlens.runs import read_toml

    values = read_toml(path)
    values.pop("kind", None)
    return values


@app.command()
@cli_errors
def info(run_dir: Annotated[Path, typer.Argument(metavar="RUN", help="a run directory")]) -> None:
    """Summarise a run: system, model, status, energy against the exact reference."""
    from physlens.runs import Run

    _print_summary(Run.load(run_dir))


@app.command()
@cli_errors
def demo(out: Annotated[Path, typer.Option(help="run directory (replaced if it holds an earlier run)")] = Path("runs/demo")) -> None:
    """The tour: an RBM on the 8-site ring and its hidden units, then a small SAE, a pruning curve and a nuclear run."""
    from physlens.quantum import train as training

    if (out / "config.toml").is_file():
        shutil.rmtree(out)
    cfg = training.TrainConfig(system="heisenberg-ring", size=8, model="rbm", alpha=2.0, mode="exact", steps=600, tol=1e-4)
    run = training.train(cfg, out)
    _print_summary(run)
    _units_report(run, 0.3, None)
    for module in (sae, prune, nuclear):
        module.demo(out.parent / f"{out.name}-{module.__name__.rsplit('.', 1)[1]}")


@app.command()
@cli_errors
def units(run_dir: Annotated[Path, typer.Argument(metavar="RUN", help="a run directory of an RBM")],
          tau: Annotated[float, typer.Option(help="importance threshold on the relative energy or C_zz impact")] = 0.3,
          report: Annotated[Optional[Path], typer.Option(help="HTML report path (default RUN/report.html)")] = None) -> None:
    """Hidden-unit analysis of one RBM run: pattern scores, ablation, retention, importance; writes its report."""
    from physlens.runs import Run

    if not 0 < tau:
        raise PhyslensError(f"--tau must be > 0; got {tau}")
    _units_report(Run.load(run_dir), tau, report)


def _units_report(run, tau: float, report: Optional[Path]) -> None:
    from physlens.studies import hidden_units

    analysis = hidden_units.analyse_run(run, tau)
    row = analysis.model_row()
    table = Table(title=f"hidden units of {run.path} (exact sums, τ = {tau})")
    for col in ("unit", "S_AFM", "ΔE", "energy impact", "C_zz impact", "E kept alone", "important"):
        table.add_column(col, justify="right")
    frame = analysis.unit_frame()
    for _, r in frame.sort_values("energy_impact", ascending=False).iterrows():
        table.add_row(str(r["unit_index"]), f"{r['s_afm']:+.3f}", f"{r['delta_energy']:+.5f}", f"{r['energy_impact']:.3f}",
                      f"{r['czz_impact']:.3f}", f"{r['energy_retained']:.5f}", "yes" if r["important"] else "")
    console.print(table)
    console.print(f"important units m′ = {row['m_important']} of M = {row['M']};  ρ(energy impact, C_zz impact) = {row['rho']:.3f}")
    console.print(f"E(full) = {row['energy']:.8f}, E(important only) = {row['energy_important']:.8f}, "
                  f"E(rest only) = {row['energy_rest']:.8f}  [{row['unit']}]")
    path = hidden_units.write_model_report(run, analysis, report)
    console.print(f"report: {path}")


study_app = typer.Typer(help="Run a study: many models through an executor, resumable.", no_args_is_help=True)
app.add_typer(study_app, name="study")


@study_app.command("hidden-units")
@cli_errors
def study_hidden_units(
    sizes: Annotated[str, typer.Option(help="ring sizes: 8-20 (even sizes) or 8,12,16")] = "8-20",
    alphas: Annotated[str, typer.Option(help="hidden-unit densities: 2-5 or 2,4")] = "2-5",
    seeds: Annotated[int, typer.Option(help="seeds per (N, alpha)")] = 10,
    tau: float = 0.3,
    steps: Annotated[int, typer.Option(help="maximum SR steps per model")] = 1500,
    stop_at_tol: Annotated[bool, typer.Option("--stop-at-tol/--fixed-steps", help="stop each model once ε < 1e-3, or train all --steps")] = True,
    executor: Annotated[str, typer.Option(help="local or dask")] = "local",
    workers: Annotated[int, typer.Option(help="processes (local) or Dask workers")] = 1,
    scheduler: Annotated[Optional[str], typer.Option(help="address of an existing Dask scheduler")] = None,
    out: Annotated[Path, typer.Option(help="study folder")] = Path("docs/studies/hidden-units"),
    progress: bool = True,
) -> None:
    """Train and analyse RBMs over sizes, alphas and seeds; tables, fits and report in OUT."""
    from physlens.studies import hidden_units, hidden_units_summary
    from physlens.studies.executors import make_executor

    size_list, alpha_list = int_list(sizes, step=2), int_list(alphas)
    bad = [n for n in size_list if n < 4 or n % 2]
    if bad or seeds < 1 or not alpha_list or min(alpha_list) < 1:
        raise PhyslensError(f"sizes must be even and >= 4, alphas >= 1, seeds >= 1; got sizes={list(size_list)}, "
                            f"alphas={list(alpha_list)}, seeds={seeds}")
    extra = ((10, 1),) if 10 in size_list and 1 not in alpha_list else ()
    study = hidden_units.StudyConfig(sizes=size_list, alphas=alpha_list, seeds=seeds, extra=extra, tau=tau, steps=steps,
                                     stop_at_tol=stop_at_tol, out=str(out))
    tables = hidden_units.run_study(study, make_executor(executor, workers, scheduler), progress=progress)
    meta = [f"study: {study}", f"executor: {executor} ({workers} workers)"]
    summaries = hidden_units_summary.write_study_outputs(out, tables, meta)
    models = tables["models"]
    console.print(f"{int(models['converged'].sum())} of {len(models)} models converged (ε < {study.tol})")
    console.print(summaries["fits"].to_string(index=False))
    console.print(f"report: {out / 'report.html'}")


def _print_summary(run) -> None:
    status, ref, cfg = run.status, run.reference, run.config
    table = Table(title=f"physlens run {run.path}", show_header=False)
    table.add_row("system", ", ".join(f"{k}={v}" for k, v in ref["system"].items()))
    model = {"rbm": lambda: f"rbm, alpha={cfg['alpha']}",
             "ffnn": lambda: f"ffnn, widths={cfg['widths']}, {cfg['activation']}",
             "transformer": lambda: (f"transformer, d_model={cfg.get('d_model')}, layers={cfg.get('n_layers')}, "
                                     f"heads={cfg.get('n_heads')}, patch={cfg.get('patch_size')}, {cfg.get('pos_encoding')}")}[cfg["model"]]()
    table.add_row("model", f"{model}, seed={cfg['seed']}")
    table.add_row("training", f"{cfg['mode']} SR, {cfg['optimizer']} lr={cfg['learning_rate']}, tol={cfg['tol']}")
    table.add_row("status", f"{status['state']} after {status['step']} steps" + (f" ({status['message']})" if status.get("message") else ""))
    unit = ref["unit"]
    table.add_row("E0 (exact)", f"{ref['energy']:.10f} {unit}  [{ref['method']}, {ref['n_states']} states]")
    if "energy" in status:
        table.add_row("E (final)", f"{status['energy']:.10f} {unit}  [{status['energy_method']}]")
        table.add_row("ε = |E−E0|/|E0|", f"{status['eps']:.3e}")
    rows = [r for r in run.metrics_rows() if "czz" in r]
    if rows:
        table.add_row("C_zz(r), last log", " ".join(f"{c:+.4f}" for c in rows[-1]["czz"]))
    console.print(table)


from physlens.cli import nuclear, prune, sae  # noqa: E402  (sub-commands register themselves on ``app``)

for _module in (nuclear, prune, sae):
    _module.register(app)


def main() -> None:
    """Entry point of the ``physlens`` script."""
    app()
