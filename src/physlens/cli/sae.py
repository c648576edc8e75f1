"""``physlens sae`` and ``physlens steer``: sparse autoencoders on a trained run, and feature steering.

    physlens sae runs/heis4x4 --hook resid.final --arch topk --k 4 --latents 64
    physlens steer runs/heis4x4 --sae runs/heis4x4/sae-resid.final/sae --feature 12 --scales 0,0.5,1,1.5,2
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.table import Table

from physlens.cli.common import cli_errors, console
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
    table = Table(title=f"steering feature {curve.feature} at {curve.hook} ({'exact' if curve.exact else 'sampled'})")
    for col in ("strength", f"energy [{curve.unit}]", "ΔE/|E|", *observables, "ESS/S", "admissible"):
        table.add_column(col, justify="right")
    frame = curve.to_frame()
    for _, r in frame.iterrows():
        table.add_row(f"{r['strength']:g}", f"{r['energy']:.6f} ± {r['energy_err']:.1g}", f"{r['rel_energy_dev']:+.2e}",
                      *(f"{r[o]:.5f}" for o in observables), f"{r['ess_fraction']:.3g}", "yes" if r["admissible"] else "no")
    return table


def sae_command(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN", help="a run directory")],
    hook: Annotated[str, typer.Option(help="hook point the SAE reads")] = "resid.final",
    arch: Annotated[str, typer.Option(help="topk, relu or jumprelu")] = "topk",
    k: Annotated[int, typer.Option(help="active latents per token (topk)")] = 4,
    latents: Annotated[int, typer.Option(help="number of SAE latents F")] = 64,
    sparsity: Annotated[float, typer.Option(help="L1 (relu) or L0 (jumprelu) coefficient")] = 1e-3,
    steps: Annotated[int, typer.Option(help="SAE training steps")] = 2000,
    method: Annotated[str, typer.Option(help="exact, sampled or auto")] = "auto",
    samples: Annotated[int, typer.Option(help="samples of |ψ|² (sampled) / training configurations (exact)")] = 4096,
    target: Annotated[Optional[str], typer.Option(help="observable whose best feature is steered (default |m_z| or |m_s|)")] = None,
    scales: Annotated[str, typer.Option(help="steering strengths: 0,0.5,1 or start:stop:count")] = "0:3:31",
    seed: int = 0,
    dashboards: Annotated[int, typer.Option(help="feature pages to write")] = 8,
    out: Annotated[Optional[Path], typer.Option(help="output folder (default RUN/sae-<hook>)")] = None,
) -> None:
    """Train an SAE on a run's activations, match features to observables, steer the best one; writes a report."""
    from physlens.runs import Run
    from physlens.studies import sae_steering

    cfg = sae_steering.SAEStudyConfig(hook=hook, arch=arch, d_sae=latents, k=k, sparsity=sparsity, n_steps=steps,
                                      method=method, n_samples=samples, target=target,
                                      strengths=tuple(float(s) for s in _strengths(scales)), seed=seed)
    run = Run.load(run_dir)
    study = sae_steering.analyse_run(run, cfg)
    out = out or run_dir / f"sae-{hook}"
    meta = [f"run: {run_dir}", f"study config: {cfg}"]
    path = sae_steering.write_outputs(study, out, f"SAE steering of {run_dir.name}", meta, n_features=dashboards)
    row = study.summary_row()
    console.print(f"SAE ({row['method']}): explained variance {row['explained_variance']:.4f}, L0 {row['l0']:.2f}, "
                  f"energy recovered {row['energy_recovered']:.4f}, fidelity {row['fidelity']:.5f}")
    console.print(study.match.observable_frame().to_string(index=False))
    console.print(_curve_table(study.curve, [study.target]))
    console.print(f"Spearman ρ({study.target}, strength) = {row[f'spearman[{study.target}]']:+.4f} over "
                  f"{row['admissible_points']} admissible points; max |ΔE|/|E| = {row['max_rel_energy_dev']:.3e}")
    console.print(f"report: {path}")


def steer_command(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN", help="a run directory")],
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
) -> None:
    """Steer one SAE feature of a run and print energy and observables at every strength."""
    from physlens.lens.sae import load_sae
    from physlens.runs import Run, atomic_write_text
    from physlens.studies import sae_steering

    run = Run.load(run_dir)
    curve = sae_steering.steer(run.system, run.model, run.variables, load_sae(sae), hook, feature, _strengths(scales),
                               mode=mode, method=method, n_samples=samples, ess_threshold=ess_threshold, seed=seed,
                               resample=resample)
    console.print(_curve_table(curve, list(curve.observables)))
    for name in curve.observables:
        console.print(f"Spearman ρ({name}, strength) = {curve.spearman(name):+.4f}")
    if out is not None:
        atomic_write_text(out, curve.to_frame().to_csv(index=False))
        console.print(f"curve: {out}")


def register(app: typer.Typer) -> None:
    """Add the ``sae`` and ``steer`` commands to the ``physlens`` app."""
    app.command("sae")(cli_errors(sae_command))
    app.command("steer")(cli_errors(steer_command))


def demo(out: Path) -> None:
    """The ``sae`` part of ``physlens demo``: a small transformer on the 8-site ring, an SAE on its
    final residual stream and one exact steering curve, written to ``out``."""
    from physlens.quantum import train as training
    from physlens.studies import sae_steering

    if (out / "config.toml").is_file():
        shutil.rmtree(out)
    cfg = training.TrainConfig(system="heisenberg-ring", size=8, model="transformer", d_model=8, n_layers=1, n_heads=2,
                               patch_size=2, mode="exact", steps=150, tol=1e-3, learning_rate=0.02)
    run = training.train(cfg, out, progress=False)
    study_cfg = sae_steering.SAEStudyConfig(hook="resid.final", d_sae=16, k=2, n_steps=200, batch_size=256, n_samples=512,
                                            strengths=tuple(np.linspace(0.0, 2.0, 11)))
    study = sae_steering.analyse_run(run, study_cfg)
    path = sae_steering.write_outputs(study, out / "sae-resid.final", "SAE steering demo (8-site ring)", [f"run: {out}"],
                                      n_features=2)
    row = study.summary_row()
    rho = study.curve.spearman(study.target)
    console.print(f"SAE demo: feature {row['feature']} ↔ {row['target']} (r = {row['feature_r']:+.3f}), "
                  f"Spearman ρ = {rho:+.3f}, max |ΔE|/|E| = {row['max_rel_energy_dev']:.2e}; report: {path}")
