"""``physlens evolve``: real-time evolution of a trained NQS after a quench (TDVP), against exact dynamics.

    physlens evolve runs/tfim12-h0.5 --quench h=1.0 --t-end 2 --dt 0.01 --save-dt 0.05
    physlens evolve --neel heisenberg-ring --size 8 --t-end 1 --dt 0.005
    physlens evolve --resume runs/tfim12-h0.5/evolve-h1.0        # an interrupted evolution
    physlens evolve-steer runs/tfim12-h0.5/evolve-h1.0 --t0 0 --strengths 0,2   # steer an SAE feature at t0

The run's system is the pre-quench Hamiltonian and its RBM (physlens ``rbm`` or ``netket.RBM``) the start,
copied into complex parameters; ``--quench NAME=VALUE`` sets the post-quench parameters. ``--neel`` starts a
complex RBM close to the Néel state instead. Writes the evolution folder, ``curves.csv`` and ``report.html``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from physlens.cli.common import add_row, cli_errors, console, float_list, frame_table, load_run, parse_params
from physlens.errors import PhyslensError, RunFailed


def _summary_table(evolution, rows: int = 11) -> Table:
    frame = evolution.frame()
    order = "m_s" if evolution.config.build_quench().after.conserves_sz else "m_x"
    table = Table(title=f"TDVP against exact ({evolution.nqs.method}); S = σ/2, ħ = 1")
    for col in ("t", "fidelity", f"{order} NQS", f"{order} exact", "C_zz(1) NQS", "C_zz(1) exact", "E(t) − E(0) NQS"):
        table.add_column(col, justify="right")
    step = max(1, (len(frame) - 1) // (rows - 1))
    for _, r in frame.iloc[::step].iterrows():
        add_row(table, f"{r['t']:g}", f"{r['fidelity']:.6f}", f"{r[order]:+.5f}", f"{r['exact_' + order]:+.5f}",
                f"{r['czz_1']:+.5f}", f"{r['exact_czz_1']:+.5f}", f"{r['energy_drift']:+.2e}")
    return table


def _start(run_dir: Optional[Path], neel: Optional[str], size: Optional[int], params: dict, quench: dict,
           alpha: float, seed: int):
    """The quench, the model spec and initial variables, and where they came from."""
    from physlens.quantum.dynamics import complex_start, neel_start
    from physlens.quantum.quench import Quench, neel_configuration
    from physlens.quantum.systems import SpinSystem, make_system

    if (run_dir is None) == (neel is None):
        raise PhyslensError("give a trained run (RUN) or --neel SYSTEM, not both or neither; allowed: "
                            "physlens evolve RUN --quench h=1.0, or physlens evolve --neel heisenberg-ring --size 8")
    if neel is not None:
        if size is None:
            raise PhyslensError("--neel needs --size (the number of sites)")
        system = make_system(neel, size, **{**params, **quench})
        spec, variables = neel_start(system.n_sites, neel_configuration(system), alpha=alpha, seed=seed)
        return Quench.neel(system), spec, variables, "neel"
    if params or size is not None:
        raise PhyslensError("--size and --param describe a --neel start; a run's system is its own. allowed: --quench")
    run = load_run(run_dir)
    if not isinstance(run.system, SpinSystem):
        raise PhyslensError(f"{run_dir} is not a spin-system run; allowed: an nqs run of an RBM")
    if not quench:
        raise PhyslensError("a quench needs at least one --quench NAME=VALUE (e.g. h=1.0)")
    before = run.system
    fields = {k: v for k, v in before.params().items() if k != "system"}
    size_name = next(iter(fields))
    after = make_system(before.kind, fields.pop(size_name), **{**fields, **quench})
    spec, variables = complex_start(run.model, run.variables)
    return Quench(after, before, "ground"), spec, variables, f"run {run_dir}"


def _default_out(run_dir: Optional[Path], neel: Optional[str], size: Optional[int], quench: dict) -> Path:
    tag = "-".join(f"{k}{v}" for k, v in quench.items()) or "quench"
    if run_dir is not None:
        return run_dir / f"evolve-{tag}"
    return Path("runs") / (f"evolve-neel-{neel}-{size}" + (f"-{tag}" if quench else ""))


def _write_outputs(evolution, out: Path) -> Path:
    from physlens.report.dynamics import evolution_report
    from physlens.runs import atomic_write_text

    atomic_write_text(out / "curves.csv", evolution.frame().to_csv(index=False))
    return evolution_report(evolution).write(out / "report.html")


def evolve_command(
    run_dir: Annotated[Optional[Path], typer.Argument(metavar="RUN", help="a trained RBM run: its system is the pre-quench Hamiltonian")] = None,
    quench: Annotated[Optional[list[str]], typer.Option("--quench", "-q", help="post-quench parameter NAME=VALUE, repeatable (h=1.0)")] = None,
    neel: Annotated[Optional[str], typer.Option(help="start from the Néel state of this system instead of a run (heisenberg-ring, tfim-chain)")] = None,
    size: Annotated[Optional[int], typer.Option(help="number of sites of the --neel system")] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", "-p", help="parameter of the --neel system NAME=VALUE, repeatable")] = None,
    alpha: Annotated[float, typer.Option(help="hidden-unit density of the --neel RBM")] = 1.0,
    t_end: Annotated[float, typer.Option(help="last time (ħ over the energy unit)")] = 1.0,
    dt: Annotated[float, typer.Option(help="RK4 step")] = 0.01,
    save_dt: Annotated[float, typer.Option(help="interval between saved times (parameters, observables, fidelity)")] = 0.05,
    exact: Annotated[bool, typer.Option("--exact/--sampled", help="full-sum (FullSumState) or Monte Carlo (MCState) TDVP")] = True,
    samples: Annotated[int, typer.Option(help="Monte Carlo samples per TDVP evaluation (--sampled)")] = 1024,
    chains: Annotated[int, typer.Option(help="Markov chains (--sampled)")] = 16,
    seed: Annotated[int, typer.Option(help="sampler seed; initialisation of the --neel RBM's hidden units")] = 0,
    rtol_smooth: Annotated[float, typer.Option(help="smooth cut-off of small QGT eigenvalues (pinv_smooth)")] = 1e-6,
    out: Annotated[Optional[Path], typer.Option(help="new evolution folder (default RUN/evolve-<quench>)")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="continue an interrupted evolution folder")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar over the saved times")] = True,
) -> None:
    """Evolve a trained NQS (or the Néel state) after a quench by TDVP; compare with exact dynamics; write a report."""
    from physlens.quantum import dynamics

    if resume is not None:
        if run_dir is not None or neel is not None:
            raise PhyslensError("--resume continues an evolution folder on its own settings; allowed: --resume DIR alone")
        evolution = dynamics.resume(resume, progress=progress)
        out = resume
    else:
        changes, params = parse_params(quench or []), parse_params(param or [])
        start, spec, variables, source = _start(run_dir, neel, size, params, changes, alpha, seed)
        config = dynamics.EvolveConfig(quench=start.params(), model=spec, t_end=t_end, save_dt=save_dt, dt=dt,
                                       mode="exact" if exact else "sampled", samples=samples, chains=chains, seed=seed,
                                       rtol_smooth=rtol_smooth, source=source)
        out = out or _default_out(run_dir, neel, size, changes)
        evolution = dynamics.evolve(config, out, variables, progress=progress)
    console.print(_summary_table(evolution))
    console.print(f"report: {_write_outputs(evolution, out)}", markup=False, highlight=False)
    if evolution.status.get("state") == "failed":
        raise RunFailed(f"evolution {out} failed: {evolution.status.get('message') or 'no reason recorded'}; allowed: "
                        "a smaller --dt, or a larger --rtol-smooth")


def print_evolution(path: Path) -> None:
    """Print the summary table of an evolution folder (``physlens info`` on it)."""
    from physlens.quantum.dynamics import load

    console.print(_summary_table(load(path)))


def _saved_index(times_T, t0: float) -> int:
    """The saved time index of ``t0``."""
    match = [k for k, t in enumerate(times_T) if abs(t - t0) <= 1e-9 * max(1.0, abs(t0))]
    if not match or match[0] == len(times_T) - 1:
        raise PhyslensError(f"--t0 {t0:g} is not a saved time with a later one; allowed: {times_T[0]:g}, "
                            f"{times_T[1]:g}, …, {times_T[-2]:g}")
    return match[0]


def steer_command(
    evolution_dir: Annotated[Path, typer.Argument(metavar="EVOLUTION", help="an evolution folder (physlens evolve)")],
    t0: Annotated[float, typer.Option(help="the saved time at which the feature is steered")] = 0.0,
    feature: Annotated[Optional[int], typer.Option(help="SAE feature to steer (default: the best match of --observable at t0)")] = None,
    observable: Annotated[str, typer.Option(help="observable whose best feature at t0 is steered when --feature is not given")] = "m_x",
    strengths: Annotated[str, typer.Option(help="comma-separated strengths (scale: 1 is no edit)")] = "0,0.5,1.5,2",
    mode: Annotated[str, typer.Option(help="scale, clamp or add the feature's latent")] = "scale",
    d_sae: Annotated[int, typer.Option(help="latents of the trajectory SAE (TopK)")] = 32,
    k: Annotated[int, typer.Option(help="active latents per configuration")] = 4,
    sae_steps: Annotated[int, typer.Option(help="SAE training steps")] = 400,
    seed: Annotated[int, typer.Option(help="SAE seed")] = 0,
    out: Annotated[Optional[Path], typer.Option(help="new folder (default EVOLUTION/steer-t<t0>)")] = None,
) -> None:
    """Steer one SAE feature of an evolving network at t0; follow the edit exactly (steer, then evolve) and through
    the TDVP networks (evolve, then steer); write steered.csv, summary.csv and a report."""
    import json

    from physlens.errors import check_choice
    from physlens.folders import folder_kind
    from physlens.lens.steering import MODES
    from physlens.quantum.dynamics import load
    from physlens.quantum.steered_dynamics import steer_and_evolve
    from physlens.quantum.trajectory_features import TrajectoryFeatureConfig, features_over_time
    from physlens.report.dynamics import describe_system
    from physlens.report.steered_dynamics import steered_report, summary_frame
    from physlens.provenance import library_versions
    from physlens.runs import atomic_write_text

    values = list(float_list(strengths, "--strengths"))
    check_choice("--mode", mode, MODES)
    evolution = load(evolution_dir)
    k0 = _saved_index(evolution.nqs.times_T, t0)
    out = out or evolution_dir / f"steer-t{t0:g}"
    settings = {"evolution": str(evolution_dir), "t0": t0, "feature": feature, "observable": observable,
                "strengths": values, "mode": mode, "d_sae": d_sae, "k": k, "sae_steps": sae_steps, "seed": seed}
    held = folder_kind(out)
    same = (out / "study.json").is_file() and json.loads((out / "study.json").read_text()).get("config") == settings
    if held is not None and not same:
        raise PhyslensError(f"{out} holds {held} other than this steering; allowed: a new --out")
    cfg = TrajectoryFeatureConfig(d_sae=d_sae, k=k, n_steps=sae_steps, seed=seed)
    features = features_over_time(evolution, cfg)
    chosen = int(features.best_feature_KO[k0, features.index(observable)]) if feature is None else feature
    steered = steer_and_evolve(evolution, features, chosen, values, k0=k0, mode=mode)
    out.mkdir(parents=True, exist_ok=True)
    record = {"kind": "steered evolution", "config": settings, "feature": chosen, "versions": library_versions(),
              "method": "exact sums over the basis; exact evolution by expm_multiply; TDVP networks from the evolution"}
    atomic_write_text(out / "study.json", json.dumps(record, indent=1))
    atomic_write_text(out / "steered.csv", steered.frame().to_csv(index=False))
    summary = summary_frame(steered)
    atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
    unit = evolution.nqs.unit
    after = evolution.config.build_quench().after
    report = steered_report(steered, f"{describe_system(after)}, evolution {evolution_dir}", unit, record)
    shown = summary[["strength", "delta_m_x_t0", "delta_energy", "delta_m_x_end_propagated", "commute_end"]]
    console.print(frame_table(shown.set_axis(["s", "Δm_x(t0)", f"ΔE [{unit}]", "Δm_x(end)", "commute(end)"], axis=1),
                              f"feature {chosen} steered at t0 = {t0:g} (S = σ/2)"))
    console.print(f"report: {report.write(out / 'report.html')}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``evolve`` and ``evolve-steer`` commands to the ``physlens`` app."""
    app.command("evolve")(cli_errors(evolve_command))
    app.command("evolve-steer")(cli_errors(steer_command))
