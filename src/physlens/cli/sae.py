"""``physlens sae`` and ``physlens steer``: sparse autoencoders on a trained model, and feature steering.

    physlens sae runs/heis4x4 --hook resid.final --arch topk --k 4 --latents 64
    physlens steer runs/heis4x4 --sae runs/heis4x4/sae-resid.final/sae --feature 12 --scales 0,0.5,1,1.5,2
    physlens sae rbm.mpack --system heisenberg-ring --size 10 --model netket.RBM:alpha=2 --k 2 --latents 16
    physlens sae-sweep runs/heis4x4 --hooks resid.final,pooled --saes default --out runs/heis4x4-sweep
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from physlens.cli.common import (SOURCE_HELP, ModelOption, ParamOption, SizeOption, SystemOption, check_output_file,
                                 cli_errors, console, frame_table, note, open_source, raise_if_failed, stages,
                                 train_or_reuse)
from physlens.errors import PhyslensError


def _strengths(text: str) -> np.ndarray:
    """'0,0.5,1' or 'start:stop:count' as an array of floats."""
    try:
        if ":" in text:
            start, stop, count = text.split(":")
            return np.linspace(float(start), float(stop), int(count))
        return np.array([float(t) for t in text.split(",")])
    except ValueError:
        raise PhyslensError(f"--scales {text!r} must be numbers like 0,0.5,1 or a range start:stop:count like 0:3:31") from None


def _curve_table(curve, observables: list[str]) -> Table:
    """The steering curve: exact curves without error bars or ESS (exact sums have neither)."""
    table = Table(title=f"steering feature {curve.feature} at {curve.hook} ({'exact sums' if curve.exact else 'sampled'})")
    sampled = not curve.exact
    columns = ["strength", f"energy [{curve.unit}]", "ΔE/|E|", *observables]
    for col in columns + (["ESS/S", "admissible"] if sampled else []):
        table.add_column(escape(col), justify="right")
    for _, r in curve.to_frame().iterrows():
        energy = f"{r['energy']:.6f}" + (f" ± {r['energy_err']:.1g}" if sampled else "")
        cells = [f"{r['strength']:g}", energy, f"{r['rel_energy_dev']:+.2e}", *(f"{r[o]:.5f}" for o in observables)]
        if sampled:
            cells += [f"{r['ess_fraction']:.3g}", "yes" if r["admissible"] else "no"]
        table.add_row(*cells)
    return table


def _spearman_line(curve, name: str) -> str:
    rho = curve.spearman(name)
    if rho != rho:
        return (f"Spearman ρ({name}, strength) undefined: fewer than 3 admissible strengths, or {name} does not "
                "change with the strength")
    return f"Spearman ρ({name}, strength) = {rho:+.4f}"


def sae_command(
    source: Annotated[Path, typer.Argument(metavar="SOURCE", help=SOURCE_HELP)],
    hook: Annotated[Optional[str], typer.Option(help="site the SAE reads (default: the model's units, else its first "
                                                      "registered site, resid.final for a transformer)")] = None,
    arch: Annotated[str, typer.Option(help="topk, relu or jumprelu")] = "topk",
    k: Annotated[int, typer.Option(help="active latents per token (topk)")] = 4,
    latents: Annotated[int, typer.Option(help="number of SAE latents F")] = 64,
    sparsity: Annotated[float, typer.Option(help="L1 (relu) or L0 (jumprelu) coefficient")] = 1e-3,
    threshold: Annotated[float, typer.Option(help="jumprelu: initial threshold θ₀ (the published 0.001 leaves L0 "
                                                  "unmoved by --sparsity within a few thousand steps; try 0.03)")] = 1e-3,
    steps: Annotated[int, typer.Option(help="SAE training steps")] = 2000,
    method: Annotated[str, typer.Option(help="exact, sampled or auto")] = "auto",
    samples: Annotated[int, typer.Option(help="samples of |ψ|² (sampled) / training configurations (exact)")] = 4096,
    target: Annotated[Optional[str], typer.Option(help="observable whose best feature is steered (default |m_z| or |m_s|)")] = None,
    scales: Annotated[str, typer.Option(help="steering strengths: 0,0.5,1 or start:stop:count")] = "0:3:31",
    seed: int = 0,
    dashboards: Annotated[int, typer.Option(help="feature pages to write")] = 8,
    out: Annotated[Optional[Path], typer.Option(help="output folder (default SOURCE/sae-<hook> for a run, "
                                                     "SOURCE.sae-<hook> beside a saved state)")] = None,
    force: Annotated[bool, typer.Option("--force", help="move an --out holding something else aside instead of refusing")] = False,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    system: SystemOption = None, size: SizeOption = None, param: ParamOption = None, model: ModelOption = None,
) -> None:
    """Train an SAE on a model's activations (a run or a saved NetKet state), match features to observables,
    steer the best one; writes a report."""
    from physlens.folders import claim
    from physlens.studies import sae_steering, sae_steering_outputs
    from physlens.studies.sae_probe_control import probe_control

    strengths = tuple(float(s) for s in _strengths(scales))
    with stages(["loading the model", "SAE, matching and steering", "writing the report"], "sae", progress) as advance:
        opened = open_source(source, system, size, param, model)
        hook = hook or _default_hook(opened)
        cfg = sae_steering.SAEStudyConfig(hook=hook, arch=arch, d_sae=latents, k=k, sparsity=sparsity,
                                          threshold=threshold, n_steps=steps,
                                          method=method, n_samples=samples, target=target, strengths=strengths, seed=seed)
        out = out or (source / f"sae-{hook}" if source.is_dir() else source.with_name(f"{source.name}.sae-{hook}"))
        if not force:
            claim(out, "sae output")
        advance()
        study = sae_steering.analyse(opened.system, opened.model, opened.variables, cfg, reference=opened.reference())
        control = probe_control(study, opened.system, opened.model, opened.variables)
        advance()
        aside = claim(out, "sae output", force=force)
        meta = [f"{opened.origin}: {source.name}, {opened.description}"]
        path = sae_steering_outputs.write_outputs(study, out, f"SAE steering of {source.name}", meta,
                                                  n_features=dashboards, control=control)
        advance()
    if aside is not None:
        note(f"moved the earlier {out} aside to {aside}")
    row = study.summary_row()
    if row["model_eps"] is not None:
        console.print(sae_steering.accuracy_text(row, row["unit"]), markup=False, highlight=False)
    console.print(f"SAE ({row['method']}): explained variance {row['explained_variance']:.4f}, L0 {row['l0']:.2f}, "
                  f"energy recovered {row['energy_recovered']:.4f}, fidelity {row['fidelity']:.5f}")
    console.print(frame_table(study.match.observable_frame(), "best feature per observable (r: Born-weighted correlation)"))
    console.print(_curve_table(study.curve, [study.target]))
    console.print(f"{_spearman_line(study.curve, study.target)} over {row['admissible_points']} admissible points; "
                  f"max |ΔE|/|E| = {row['max_rel_energy_dev']:.3e}")
    console.print(frame_table(control.quiet, f"feature vs linear-probe direction (probe r = {control.probe_r:.3f}): "
                                             f"quiet range and change of {control.target}"))
    console.print(f"report: {path}")


def steer_command(
    source: Annotated[Path, typer.Argument(metavar="SOURCE", help=SOURCE_HELP)],
    sae: Annotated[Path, typer.Option(help="SAE folder (sae_weights.safetensors + cfg.json)")],
    feature: Annotated[int, typer.Option(help="the feature to steer")],
    scales: Annotated[str, typer.Option(help="steering strengths: 0,0.5,1 or start:stop:count")] = "0:3:31",
    hook: Annotated[str, typer.Option(help="hook point the SAE was trained on")] = "resid.final",
    mode: Annotated[str, typer.Option(help="scale, clamp or add")] = "scale",
    method: Annotated[str, typer.Option(help="exact, sampled or auto")] = "auto",
    samples: Annotated[int, typer.Option(help="samples of |ψ|² (sampled)")] = 4096,
    ess_threshold: Annotated[float, typer.Option(help="smallest admissible ESS/S of a reweighted point")] = 0.1,
    seed: int = 0,
    resample: Annotated[bool, typer.Option(help="sampled runs: draw fresh samples for every strength (checks reweighting)")] = False,
    out: Annotated[Optional[Path], typer.Option(help="CSV file for the curve")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    system: SystemOption = None, size: SizeOption = None, param: ParamOption = None, model: ModelOption = None,
) -> None:
    """Steer one SAE feature of a model (a run or a saved NetKet state) and print energy and observables at
    every strength."""
    from physlens.lens.sae import load_sae
    from physlens.runs import atomic_write_text
    from physlens.studies import sae_steering

    strengths = _strengths(scales)
    check_output_file(out, source, header="strength,")
    with stages(["loading the model and the SAE", "steering"], "steer", progress) as advance:
        opened = open_source(source, system, size, param, model)
        sae_model = load_sae(sae)
        advance()
        curve = sae_steering.steer(opened.system, opened.model, opened.variables, sae_model, hook, feature, strengths,
                                   mode=mode, method=method, n_samples=samples, ess_threshold=ess_threshold, seed=seed,
                                   resample=resample)
        advance()
    console.print(_curve_table(curve, list(curve.observables)))
    for name in curve.observables:
        console.print(_spearman_line(curve, name))
    if out is not None:
        atomic_write_text(out, curve.to_frame().to_csv(index=False))
        console.print(f"curve: {out}")


def _default_hook(opened) -> str:
    """The site an SAE reads when none is named: the model's hidden units, else its first registered site."""
    from physlens.quantum.registry import entry_for

    hooks = [opened.units_hook(), *entry_for(opened.model).hooks]
    chosen = next((h for h in hooks if h is not None), None)
    if chosen is None:
        raise PhyslensError(f"{opened.description} has no default site; give --hook, one of: {', '.join(opened.hook_names())}")
    return chosen


def sweep_command(
    source: Annotated[Path, typer.Argument(metavar="SOURCE", help=SOURCE_HELP)],
    hooks: Annotated[Optional[str], typer.Option(help="hook points, comma-separated (default: the sae command's)")] = None,
    saes: Annotated[str, typer.Option(help="default (the ReLU λ, TopK k and JumpReLU grid) or specs arch:latents:value, "
                                           "comma-separated, e.g. relu:64:1e-3,topk:64:4")] = "default",
    steps: Annotated[int, typer.Option(help="training steps of every SAE")] = 2000,
    method: Annotated[str, typer.Option(help="exact, sampled or auto")] = "auto",
    samples: Annotated[int, typer.Option(help="samples of |ψ|² (sampled) / training configurations (exact)")] = 4096,
    target: Annotated[Optional[str], typer.Option(help="observable of the split-feature columns (default |m_z| or |m_s|)")] = None,
    seed: int = 0,
    out: Annotated[Path, typer.Option(help="a new folder, or one holding this sweep (resumed)")] = Path("runs/sae-sweep"),
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    system: SystemOption = None, size: SizeOption = None, param: ParamOption = None, model: ModelOption = None,
) -> None:
    """Train a grid of SAEs (sparsity, width, hook) on a model's activations: one row per SAE in sweep.csv with L0,
    explained variance, dead fraction, energy recovered, fidelity, best |r| per observable and the linear-probe
    ceiling beside it; report.html holds the Pareto figure."""
    import dataclasses
    import json

    from physlens.folders import folder_kind
    from physlens.report.sae_sweep import write_sweep_report
    from physlens.runs import atomic_write_text
    from physlens.studies.sae_steering import accuracy_text
    from physlens.studies.sae_sweep import DEFAULT_GRID, SweepConfig, run_sweep

    opened = open_source(source, system, size, param, model)
    specs = DEFAULT_GRID if saes == "default" else tuple(s.strip() for s in saes.split(",") if s.strip())
    hook_list = tuple(h.strip() for h in hooks.split(",")) if hooks else (_default_hook(opened),)
    unknown = [h for h in hook_list if h not in opened.hook_names()]
    if unknown:
        raise PhyslensError(f"unknown hook(s) {', '.join(unknown)}; allowed: {', '.join(opened.hook_names())}")
    config = SweepConfig(hooks=hook_list, saes=specs, n_steps=steps, method=method, n_samples=samples, target=target,
                         seed=seed)
    settings = json.loads(json.dumps({**dataclasses.asdict(config), "source": str(source)}, default=list))
    held = folder_kind(out)
    if held is not None and not ((out / "sweep.json").is_file() and json.loads((out / "sweep.json").read_text()) == settings):
        raise PhyslensError(f"{out} holds {held} other than this sweep; allowed: a new --out, or the same settings to resume it")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "sweep.json", json.dumps(settings, indent=1))
    frame = run_sweep(opened.system, opened.model, opened.variables, config, out, progress=progress,
                      reference=opened.reference())
    meta = [f"{opened.origin}: {source.name}, {opened.description}"]
    if "model_eps" in frame and frame.model_eps.notna().any():
        meta.append(accuracy_text(frame[frame.model_eps.notna()].iloc[-1], opened.system.energy_unit))
    path = write_sweep_report(frame, out / "report.html", meta)
    target_name = frame.target.iloc[0]
    console.print(frame_table(frame[["hook", "sae", "l0", "explained_variance", f"best_abs_r[{target_name}]",
                                     f"probe_ceiling_r[{target_name}]"]], "SAE sweep"))
    console.print(f"report: {path}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``sae``, ``sae-sweep`` and ``steer`` commands to the ``physlens`` app."""
    app.command("sae")(cli_errors(sae_command))
    app.command("sae-sweep")(cli_errors(sweep_command))
    app.command("steer")(cli_errors(steer_command))


def demo(out: Path, force: bool = False) -> None:
    """The ``sae`` part of ``physlens demo``: a small transformer on the 8-site ring, an SAE on its
    final residual stream and one exact steering curve, written to ``out`` (a folder holding this run is
    reused; anything else is refused unless ``force`` moves it aside)."""
    from physlens.quantum import train as training
    from physlens.studies import sae_steering, sae_steering_outputs

    cfg = training.TrainConfig(system="heisenberg-ring", size=8, model="transformer", d_model=8, n_layers=1, n_heads=2,
                               patch_size=2, mode="exact", steps=150, tol=1e-3, learning_rate=0.02)
    run = train_or_reuse(cfg, out, "nqs run", training.train, training.resume, force=force, progress=False)
    raise_if_failed(run)
    study_cfg = sae_steering.SAEStudyConfig(hook="resid.final", d_sae=16, k=2, n_steps=200, batch_size=256, n_samples=512,
                                            strengths=tuple(np.linspace(0.0, 2.0, 11)))
    study = sae_steering.analyse_run(run, study_cfg)
    path = sae_steering_outputs.write_outputs(study, out / "sae-resid.final", "SAE steering demo (8-site ring)",
                                              [f"run: {out.name}"], n_features=2)
    row = study.summary_row()
    console.print(f"SAE demo: feature {row['feature']} ↔ {row['target']} (r = {row['feature_r']:+.3f}); "
                  f"{_spearman_line(study.curve, study.target)}; max |ΔE|/|E| = {row['max_rel_energy_dev']:.2e}; "
                  f"report: {path}")
