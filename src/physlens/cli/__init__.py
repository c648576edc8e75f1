"""The ``physlens`` command: parses, calls the library, prints.

Every error a user can fix prints one line to stderr, ``physlens: error: <what is wrong>;
allowed: <what is allowed>``, and exits with a documented code:

- 2: bad input (an unknown system, an odd N for the ring, alpha <= 0, a config value of the
  wrong type, a missing, corrupt or failed run, a folder that holds something else);
- 3: the environment (a folder in use by another physlens process, a read-only or full
  disk, a permission denied);
- 4: the run failed (diverged or NaN energies, or a state collapsed onto a few
  configurations); the summary is printed first, and the run's status says why;
- 130 (Ctrl-C) and 143 (SIGTERM, e.g. ``kill`` or a scheduler's time limit): the work in progress is
  recorded as interrupted at its last checkpoint, what finished is kept, and the same command continues.

Nothing is written before the input is checked, and no command deletes or overwrites what
another command wrote: an ``--out`` holding something else is refused unless ``--force``
moves it aside to ``<out>.old-<timestamp>``. Flags typed on the command line override a
``--config`` file, which overrides the defaults. ``-h`` is ``--help``.

    physlens train --system heisenberg-ring --size 8 --alpha 2 --out runs/ring8
    physlens train --resume runs/ring8
    physlens info runs/ring8
    physlens demo
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from physlens.cli.common import (SOURCE_HELP, ModelOption, ParamOption, SizeOption, SystemOption, add_row,
                                 check_output_file, cli_errors, console, open_source,
                                 parse_params, raise_if_failed, train_or_reuse)
from physlens.errors import PhyslensError
from physlens.termination import raise_on_sigterm

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Mechanistic interpretability of neural networks trained on physics.")


def _print_version(value: bool) -> None:
    if value:
        console.print(f"physlens {metadata.version('physlens')}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                   help="print the version and exit")] = False) -> None:
    """Mechanistic interpretability of neural networks trained on physics."""


@app.command()
@cli_errors
def train(
    ctx: typer.Context,
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
    learning_rate_final: Annotated[Optional[float], typer.Option(help="decay the step size along a cosine to this value at the last step (default: constant)")] = None,
    diag_shift: Annotated[Optional[float], typer.Option(help="SR diagonal shift (default 0.01)")] = None,
    sr_solver: Annotated[Optional[str], typer.Option(help="SR linear solver: cg (NetKet's default, conjugate gradients; slower as training converges) or cholesky (NetKet's VMC_SR: an exact solve at a fixed cost per step, on the dense QGT with full sums, in sample space when samples < parameters)")] = None,
    e0: Annotated[Optional[float], typer.Option("--e0", help="ground-state energy to measure ε against, in the system's unit (default: exact diagonalisation where the basis fits, else none)")] = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML file of TrainConfig keys; flags typed on the command line override it")] = None,
    preset: Annotated[Optional[str], typer.Option(help="a transformer preset of the SAE study (heisenberg-4x4-converged, tfim-chain-20-converged, …); flags typed on the command line override it (another system or size drops the preset's reference energy)")] = None,
    out: Annotated[Optional[Path], typer.Option(help="new run directory (default runs/<system>-<size>-<model>-s<seed>)")] = None,
    force: Annotated[bool, typer.Option("--force", help="move an existing --out aside to OUT.old-<time> instead of refusing")] = False,
    resume: Annotated[Optional[Path], typer.Option(help="continue this interrupted run instead")] = None,
    init_from: Annotated[Optional[Path], typer.Option(help="start from the final parameters of this finished run (same system and network) instead of the seed's initialisation: fine-tuning, or polishing a sampled run with --exact")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    protocol: Annotated[Optional[str], typer.Option(help="a named training protocol (physlens-sr, rbm-paper) fixing the model, optimiser, sampler and stopping rule; --system, --size, --alpha, --seed and --steps stay free")] = None,
) -> None:
    """Train a neural quantum state by VMC with stochastic reconfiguration."""
    from physlens.quantum import protocols, warm_start
    from physlens.quantum import train as training

    if resume is not None:
        run = training.resume(resume, progress=progress)
    else:
        try:
            width_list = tuple(int(w) for w in widths.split(","))
        except ValueError:
            raise PhyslensError(f"--widths must be comma-separated integers; got {widths!r}") from None
        flags = {"system": ("system", system), "size": ("size", size), "model": ("model", model), "alpha": ("alpha", alpha),
                 "widths": ("widths", width_list), "activation": ("activation", activation), "d_model": ("d_model", d_model),
                 "n_layers": ("n_layers", n_layers), "n_heads": ("n_heads", n_heads), "patch_size": ("patch_size", patch_size),
                 "pos_encoding": ("pos_encoding", pos_encoding), "seed": ("seed", seed), "steps": ("steps", steps),
                 "samples": ("samples", samples), "chains": ("chains", chains),
                 "mode": ("exact", "exact" if exact else "sampled"), "tol": ("tol", tol),
                 "learning_rate": ("learning_rate", learning_rate), "learning_rate_final": ("learning_rate_final", learning_rate_final),
                 "diag_shift": ("diag_shift", diag_shift), "sr_solver": ("sr_solver", sr_solver),
                 "reference_energy": ("e0", e0), "init_from": ("init_from", None if init_from is None else str(init_from))}
        values = {key: value for key, (_, value) in flags.items() if value is not None}
        values["system_params"] = parse_params(param or [])
        if config is not None and preset is not None:
            raise PhyslensError("give --config or --preset, not both")
        if config is not None or preset is not None:
            values |= _read_config(config) if config is not None else _preset_values(preset)
            typed = {key: value for key, (name, value) in flags.items() if _typed(ctx, name)}
            values |= typed
            if preset is not None and e0 is None and ({"system", "size"} & set(typed) or param):
                values |= {"reference_energy": None, "reference_method": ""}
            if param and isinstance(values.get("system_params"), dict):
                values["system_params"] = {**values["system_params"], **parse_params(param)}
        if e0 is not None:
            values["reference_method"] = "given with --e0"
        cfg = training.TrainConfig.from_dict(values)
        if protocol is not None:
            chosen = protocols.get(protocol)
            fixed = [name for key, (name, _) in flags.items() if key in chosen.settings and _typed(ctx, name)]
            if fixed:
                raise PhyslensError(f"--protocol {protocol} fixes {', '.join('--' + n.replace('_', '-') for n in fixed)}; "
                                    "drop them or drop --protocol")
            cfg = chosen.config(cfg)
        cfg = warm_start.pinned(cfg)
        out = out or Path("runs") / f"{cfg.system}-{cfg.size}-{cfg.model}-s{cfg.seed}"
        run = train_or_reuse(cfg, out, "nqs run", training.train, force=force, progress=progress,
                             check=lambda: cfg.reference(cfg.build_system()))
    _print_summary(run)
    raise_if_failed(run)


def _preset_values(name: str) -> dict:
    """The fields of the SAE study's training preset ``name`` (``physlens.quantum.presets``)."""
    from physlens.quantum.presets import preset

    return preset(name).to_dict()


def _typed(ctx: typer.Context, name: str) -> bool:
    """Whether the option ``name`` was given on the command line (not a default)."""
    return getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"


def _read_config(path: Path) -> dict:
    from physlens.runs import read_toml

    values = read_toml(path)
    values.pop("kind", None)
    return values


@app.command()
@cli_errors
def info(source: Annotated[Path, typer.Argument(metavar="SOURCE", help=SOURCE_HELP)],
         system: SystemOption = None, size: SizeOption = None, param: ParamOption = None, model: ModelOption = None) -> None:
    """Summarise a run (system, model, status, energy against the exact reference, final C_zz(r)) or a saved
    NetKet state (the same numbers, computed now: exact where the basis fits, sampled otherwise)."""
    from physlens.runs import Run

    if source.is_dir() and system is None and size is None and not param and model is None:
        run = Run.open(source)
        run.verify()
        _print_summary(run)
        return
    _print_opened(open_source(source, system, size, param, model))


def _print_opened(opened) -> None:
    """Print the summary of a model opened from a saved state: what it is, its energy, variance and C_zz(r)."""
    from physlens.quantum.evaluators import fits_exactly

    system = opened.system
    energy, czz, unit = opened.energy(), opened.czz(), system.energy_unit
    how = "exact full sum" if energy.exact else "Monte Carlo"
    table = Table(title=f"{opened.origin} {opened.source}", show_header=False)
    add_row(table, "system", ", ".join(f"{k}={v}" for k, v in system.params().items()))
    add_row(table, "model", f"{opened.description}, {opened.n_parameters} parameters")
    add_row(table, "E", f"{float(energy.value):.10f} {unit}" + ("" if energy.exact else f" ± {float(energy.error):.1e}")
            + f"  [{how}]")
    if fits_exactly(system):
        ref = system.exact()
        add_row(table, "E0 (exact)", f"{ref.energy:.10f} {unit}  [{ref.method}, {ref.n_states} states]")
        add_row(table, "ε = |E−E0|/|E0|", f"{abs(float(energy.value) - ref.energy) / abs(ref.energy):.3e}")
    add_row(table, "energy variance", f"{opened.energy_variance():.3e} {unit}²  [{how}]")
    add_row(table, f"C_zz(r) [{how}]", " ".join(f"{c:+.4f}" for c in czz.value) + " ħ²")
    add_row(table, "sites", ", ".join(opened.hook_names()) or "none (the model has no submodules)")
    for line in opened.notes:
        add_row(table, "note", line)
    console.print(table)


@app.command()
@cli_errors
def demo(out: Annotated[Path, typer.Option(help="run directory; the demo's other folders go beside it")] = Path("runs/demo"),
         force: Annotated[bool, typer.Option("--force", help="move folders of another kind or configuration aside instead of refusing")] = False) -> None:
    """The tour: an RBM on the 8-site ring and its hidden units, then a small SAE, a pruning curve and a nuclear run.

    A folder that already holds the demo's run is reused (resumed if unfinished); one that holds
    anything else is refused unless --force moves it aside.
    """
    from physlens.quantum import train as training

    cfg = training.TrainConfig(system="heisenberg-ring", size=8, model="rbm", alpha=2.0, mode="exact", steps=600, tol=1e-4)
    run = train_or_reuse(cfg, out, "nqs run", training.train, training.resume, force=force)
    _print_summary(run)
    raise_if_failed(run)
    _units_report(open_source(out, None, None, None, None), 0.3, None)
    for module in (sae, prune, nuclear):
        module.demo(out.parent / f"{out.name}-{module.__name__.rsplit('.', 1)[1]}", force=force)


@app.command()
@cli_errors
def units(source: Annotated[Path, typer.Argument(metavar="SOURCE", help=SOURCE_HELP)],
          tau: Annotated[float, typer.Option(help="importance threshold on the relative energy or C_zz impact")] = 0.3,
          report: Annotated[Optional[Path], typer.Option(help="HTML report path (default SOURCE/report.html for a run, "
                                                                  "SOURCE.units.html beside a saved state)")] = None,
          system: SystemOption = None, size: SizeOption = None, param: ParamOption = None, model: ModelOption = None) -> None:
    """Hidden-unit analysis of one model (a run or a saved NetKet state): pattern scores, ablation, retention,
    importance, by exact sums; writes its report."""
    from physlens.report.html import PAGE_START

    if not 0 < tau:
        raise PhyslensError(f"--tau must be > 0; got {tau}")
    if report is None and not source.is_dir():
        report = source.with_name(source.name + ".units.html")
    check_output_file(report, source, header=PAGE_START)
    _units_report(open_source(source, system, size, param, model), tau, report)


def _units_report(opened, tau: float, report: Optional[Path]) -> None:
    """Analyse the hidden units of an opened model, print the table and write its report."""
    from physlens import analyses

    analysis = analyses.units(opened, tau)
    row = analysis.model_row()
    unit = row["unit"]
    table = Table(title=f"hidden units of {opened.source} (exact sums, τ = {tau}; energies in {unit})")
    for col in ("unit", "S_AFM", f"ΔE [{unit}]", "energy impact", "C_zz impact", f"E kept alone [{unit}]", "important"):
        table.add_column(escape(col), justify="right")
    frame = analysis.unit_frame()
    for _, r in frame.sort_values("energy_impact", ascending=False).iterrows():
        add_row(table, str(r["unit_index"]), f"{r['s_afm']:+.3f}", f"{r['delta_energy']:+.5f}", f"{r['energy_impact']:.3f}",
                      f"{r['czz_impact']:.3f}", f"{r['energy_retained']:.5f}", "yes" if r["important"] else "")
    console.print(table)
    rho = "undefined (an impact is constant over the units)" if row["rho"] != row["rho"] else f"{row['rho']:.3f}"
    console.print(f"important units m′ = {row['m_important']} of M = {row['M']};  ρ(energy impact, C_zz impact) = {rho}")
    console.print(f"E(full) = {row['energy']:.8f}, E(important only) = {row['energy_important']:.8f}, "
                  f"E(rest only) = {row['energy_rest']:.8f}  [{unit}]")
    path = analyses.units_report(opened, analysis, report)
    console.print(f"report: {path}")


def _print_summary(run) -> None:
    """Print a run's summary table (either kind): the status, energies and final-state numbers it recorded."""
    from physlens.quantum.registry import describe
    from physlens.quantum.train import config_of

    if run.config.get("kind") == "nuclear":
        nuclear.print_run(run, None)
        return
    if run.config.get("kind") == "evolution":
        evolve.print_evolution(run.path)
        return
    status, ref, cfg = run.status, run.reference, config_of(run)
    table = Table(title=f"physlens run {run.path}", show_header=False)
    add_row(table, "system", ", ".join(f"{k}={v}" for k, v in ref["system"].items()))
    model = describe(cfg.build_model())
    n_params = f", {status['n_parameters']} parameters" if "n_parameters" in status else ""
    add_row(table, "model", f"{model}, seed={cfg.seed}{n_params}")
    rate = f"{cfg.learning_rate:g}" + ("" if cfg.learning_rate_final is None else f"→{cfg.learning_rate_final:g}")
    start = f"; from {cfg.init_from}" if cfg.init_from else ""
    add_row(table, "training", f"{cfg.mode} SR (shift {cfg.diag_shift:g}, {cfg.sr_solver} solve), "
                               f"{cfg.optimizer} lr={rate}, tol={cfg.tol:g}{start}")
    add_row(table, "status", f"{status['state']} after {status['step']} steps" + (f" ({status['message']})" if status.get("message") else ""))
    seconds = status.get("seconds", status.get("seconds_last_sitting"))
    if seconds is not None:
        add_row(table, "wall time", f"{seconds:.1f} s")
    unit = ref["unit"]
    if ref["energy"] is None:
        add_row(table, "E0", f"unavailable ({ref['method']})")
    else:
        states = f", {ref['n_states']} states" if ref.get("n_states") else ""
        label = "E0 (exact)" if cfg.reference_energy is None else "E0 (given)"
        add_row(table, label, f"{ref['energy']:.10f} {unit}  [{ref['method']}{states}]")
    if status.get("energy") is not None:
        add_row(table, "E (final)", f"{status['energy']:.10f} {unit}  [{status['energy_method']}]")
        eps = status.get("eps")
        add_row(table, "ε = |E−E0|/|E0|", "unavailable (no reference energy)" if eps is None else f"{eps:.3e}")
    if status.get("variance") is not None:
        add_row(table, "energy variance", f"{status['variance']:.3e} {unit}²")
    if status.get("collapsed"):
        add_row(table, "warning", "the state collapsed onto a few configurations; its analyses are refused")
    if "czz" in status:
        add_row(table, f"C_zz(r), final state [{status['czz_method']}]", " ".join(f"{c:+.4f}" for c in status["czz"]) + " ħ²")
    else:
        rows = [r for r in run.metrics_rows() if "czz" in r]
        if rows:
            add_row(table, f"C_zz(r), logged at step {rows[-1]['step']}", " ".join(f"{c:+.4f}" for c in rows[-1]["czz"]) + " ħ²")
    console.print(table)


from physlens.cli import evolve, nuclear, prune, sae, studies  # noqa: E402  (sub-commands register themselves on ``app``)

for _module in (evolve, nuclear, prune, sae, studies):
    _module.register(app)


def main() -> None:
    """Entry point of the ``physlens`` script; SIGTERM is handled as Ctrl-C (``physlens.termination``)."""
    raise_on_sigterm()
    app()
