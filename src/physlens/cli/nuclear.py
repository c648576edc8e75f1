"""``physlens nuclear``: train the nuclear regressor, analyse a run, run the study.

    physlens nuclear train --out runs/nuclear              # default preset, about 7 min on 2 cores
    physlens nuclear train --resume runs/nuclear
    physlens nuclear train --target-source semf --structure-every 1000   # the SEMF pseudo-data control
    physlens nuclear train --preset paper --out runs/nuclear-paper       # the paper's long run (an accelerator)
    physlens nuclear controls --part controls; ... --part widths; ... --part report
    physlens nuclear analyse runs/nuclear                  # RUN/report.html and RUN/analysis.json
    physlens nuclear study --out runs/nuclear-study        # fractions x seeds, single vs multi task
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from physlens.cli.common import (add_row, check_output_file, cli_errors, console, float_list, frame_table, load_run,
                                 note, raise_if_failed, stages, train_or_reuse)
from physlens.errors import PhyslensError, check_choice

if TYPE_CHECKING:
    from physlens.nuclear.evaluate import BindingEvaluation
    from physlens.runs import Run

nuclear_app = typer.Typer(help="Nuclear binding from AME2020: train, analyse, study.", no_args_is_help=True)


@nuclear_app.command("train")
@cli_errors
def train_command(
    preset: Annotated[str, typer.Option(help="default (width 64, 40,000 steps, CPU) or paper (width 2048, 200,000 full-batch epochs, for an accelerator)")] = "default",
    tasks: Annotated[Optional[str], typer.Option(help="comma-separated tasks (B, S_n, S_p, S_2n, S_2p, Q_alpha, Q_beta_minus, Q_EC, Z, N); default: the preset's")] = None,
    target_source: Annotated[Optional[str], typer.Option(help="ame2020 (measured), semf or semf-grid (the fitted SEMF's pseudo-data); default: ame2020")] = None,
    train_fraction: Annotated[Optional[float], typer.Option(help="fraction of nuclei in training, in (0, 1]; default: the preset's")] = None,
    split_seed: Annotated[int, typer.Option(help="seed of the train/validation split")] = 0,
    seed: Annotated[int, typer.Option(help="seed of initialisation and minibatch order")] = 0,
    binding_target: Annotated[Optional[str], typer.Option(help="what the B readout predicts: per_nucleon (B/A) or total (B); default: the preset's")] = None,
    b_weight: Annotated[Optional[float], typer.Option(help="loss weight of B; default: the preset's")] = None,
    width: Annotated[Optional[int], typer.Option(help="model width; default: the preset's")] = None,
    depth: Annotated[Optional[int], typer.Option(help="number of blocks; default: the preset's")] = None,
    steps: Annotated[Optional[int], typer.Option(help="AdamW steps; default: the preset's")] = None,
    learning_rate: Annotated[Optional[float], typer.Option(help="peak AdamW rate; default: the preset's")] = None,
    weight_decay: Annotated[Optional[float], typer.Option(help="AdamW decoupled weight decay (0: none, the paper's Fig. 24 control); default: the preset's 0.01")] = None,
    structure_every: Annotated[Optional[int], typer.Option(help="steps between structure measures (structure.jsonl; 0: none); default: none")] = None,
    out: Annotated[Optional[Path], typer.Option(help="new run directory (default runs/nuclear-s<seed>)")] = None,
    force: Annotated[bool, typer.Option("--force", help="move an existing --out aside to OUT.old-<time> instead of refusing")] = False,
    resume: Annotated[Optional[Path], typer.Option(help="continue this interrupted run instead")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Train the multi-task nuclear regressor (default preset) and compare it with the SEMF."""
    from physlens.nuclear import train as training
    from physlens.nuclear.evaluate import evaluate
    from physlens.nuclear.training_config import preset as preset_config

    if resume is not None:
        run = training.resume(resume, progress=progress)
    else:
        base = preset_config(preset)
        task_list = base.tasks if tasks is None else tuple(t.strip() for t in tasks.split(",") if t.strip())
        weights = {t: w for t, w in base.task_weights.items() if t in task_list}
        if b_weight is not None:
            weights["B"] = b_weight
        given = {"binding_target": binding_target, "width": width, "depth": depth, "steps": steps,
                 "learning_rate": learning_rate, "weight_decay": weight_decay, "target_source": target_source,
                 "train_fraction": train_fraction, "structure_every": structure_every}
        cfg = training.NuclearTrainConfig.from_dict(
            {**base.to_dict(), **{k: v for k, v in given.items() if v is not None}, "tasks": task_list,
             "task_weights": weights, "split_seed": split_seed, "seed": seed})
        run = train_or_reuse(cfg, out or Path("runs") / f"nuclear-s{seed}", "nuclear run", training.train,
                             force=force, progress=progress)
    usable = run.status["state"] != "failed" and "B" in run.config["tasks"]
    print_run(run, evaluate(run) if usable else None)
    raise_if_failed(run)


def print_run(run: Run, evaluation: BindingEvaluation | None) -> None:
    """Print a nuclear run's summary from its status (and the held-out comparison with the SEMF when given)."""
    status = run.status
    table = Table(title=f"nuclear run {run.path}", show_header=False)
    message = f" ({status['message']})" if status.get("message") else ""
    add_row(table, "status", f"{status['state']} after {status['step']} steps{message}")
    cfg = run.config
    parameters = f", {status['n_parameters']} parameters" if "n_parameters" in status else ""
    add_row(table, "model", f"width {cfg.get('width')}, depth {cfg.get('depth')}, tasks {', '.join(cfg['tasks'])}{parameters}")
    seconds = status.get("seconds", status.get("seconds_last_sitting"))
    if seconds is not None:
        add_row(table, "wall time", f"{seconds:.0f} s")
    for task in run.config["tasks"]:
        train_rms, val_rms = status.get(f"train_rms_{task}"), status.get(f"val_rms_{task}")
        if train_rms is not None and val_rms is not None:
            add_row(table, f"{task} RMS train / held-out", f"{train_rms:.3f} / {val_rms:.3f} MeV")
    if evaluation is not None:
        add_row(table, "held-out B RMS: model / SEMF", f"{evaluation.rms_model:.3f} / {evaluation.rms_semf:.3f} MeV "
                                                      f"({len(evaluation.Z)} nuclei, SEMF fitted on the training nuclei)")
    console.print(table)


@nuclear_app.command("analyse")
@cli_errors
def analyse_command(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN", help="a nuclear run directory")],
    n_pcs: Annotated[int, typer.Option(help="penultimate PCs matched to the physics terms")] = 8,
    sr_pcs: Annotated[int, typer.Option(help="leading PCs given a symbolic formula")] = 6,
    topography_n: Annotated[int, typer.Option("--topography-n", help="N of the latent topography")] = 82,
    generations: Annotated[int, typer.Option(help="symbolic-regression generations per PC")] = 200,
    population: Annotated[int, typer.Option(help="symbolic-regression population size")] = 1000,
    report: Annotated[Optional[Path], typer.Option(help="HTML report path (default RUN/report.html)")] = None,
    figures: Annotated[Optional[Path], typer.Option(help="also write each figure as PNG into this folder")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Representation geometry of one run: embeddings, helix, parity, truncation, PC-term matches, formulas."""
    from physlens.nuclear.analysis import analyse
    from physlens.report.nuclear import run_report
    from physlens.runs import Run, atomic_write_text

    if Run.open(run_dir).config.get("kind") != "nuclear":
        raise PhyslensError(f"{run_dir} is not a nuclear run; allowed: a nuclear run")
    check_output_file(report, run_dir)
    with stages(["loading the run", "geometry and symbolic regression", "writing the report"], "nuclear analyse",
                progress) as advance:
        run = load_run(run_dir)
        advance()
        analysis = analyse(run, n_pcs=n_pcs, sr_pcs=sr_pcs, topography_N=topography_n, generations=generations,
                           population_size=population)
        summary = analysis.summary()
        advance()
        atomic_write_text(run.path / "analysis.json", json.dumps(summary, indent=1, default=float))
        path = run_report(run, analysis, report or run.path / "report.html", figures)
        advance()
    console.print(frame_table(analysis.best_pc_per_term(), "penultimate PC most similar to each physics term (cos: cosine similarity)"))
    console.print(f"PC0 best term: {summary['pc0_best_term']} (cos {summary['pc0_best_cos']:+.3f})")
    console.print(f"helix R² (first 3 PCs): Z {summary['helix_r2_Z']:.3f}, N {summary['helix_r2_N']:.3f}; "
                  f"R_P: Z {summary['R_P_Z']:.3f}, N {summary['R_P_N']:.3f}")
    console.print(f"held-out B RMS: model {summary['rms_model_val']:.3f}, symbolic formula "
                  f"{summary['rms_formula_val']:.3f}, SEMF {summary['rms_semf_val']:.3f} MeV")
    console.print(f"report: {path}")


@nuclear_app.command("study")
@cli_errors
def study_command(
    fractions: Annotated[str, typer.Option(help="training fractions, comma-separated")] = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9",
    seeds: Annotated[int, typer.Option(help="seeds per fraction")] = 3,
    steps: Annotated[int, typer.Option(help="AdamW steps per model (study preset)")] = 1500,
    width: Annotated[int, typer.Option(help="model width per model (study preset)")] = 32,
    single: Annotated[bool, typer.Option("--single/--no-single", help="also train one single-task model per task")] = True,
    executor: Annotated[str, typer.Option(help="local or dask")] = "local",
    workers: Annotated[int, typer.Option(help="processes (local) or Dask workers")] = 1,
    scheduler: Annotated[Optional[str], typer.Option(help="address of an existing Dask scheduler")] = None,
    out: Annotated[Path, typer.Option(help="study folder (an existing study with the same settings is resumed)")] = Path("runs/nuclear-study"),
    force: Annotated[bool, typer.Option("--force", help="move an --out holding something else aside instead of refusing")] = False,
    progress: bool = True,
) -> None:
    """Train models over training fractions and seeds (and single-task models); tables and report in OUT."""
    from physlens.folders import FolderLock, claim
    from physlens.nuclear.targets import DEFAULT_TASKS
    from physlens.report.nuclear import write_study_outputs
    from physlens.studies import nuclear
    from physlens.studies.executors import make_executor

    fraction_list = float_list(fractions, "--fractions")
    if seeds < 1 or not all(0 < f < 1 for f in fraction_list):
        raise PhyslensError(f"fractions must lie in (0, 1) and seeds be >= 1; got {list(fraction_list)}, {seeds}")
    single_fraction = 0.8 if 0.8 in fraction_list else fraction_list[-1]
    study = nuclear.StudyConfig(fractions=fraction_list, seeds=tuple(range(seeds)),
                                single_tasks=DEFAULT_TASKS if single else (), single_fraction=single_fraction,
                                steps=steps, width=width, out=str(out))
    pool = make_executor(executor, workers, scheduler)
    aside = claim(out, "nuclear study", force=force)
    if aside is not None:
        note(f"moved the earlier {out} aside to {aside}")
    with FolderLock(out):
        tables = nuclear.run_study(study, pool, progress=progress)
        meta = [f"executor: {executor} ({workers} workers)",
                f"preset: default NuclearTrainConfig with width={width}, steps={steps} (the default model: 64, 40000)"]
        config = {k: v for k, v in vars(study).items() if k != "out"}
        path = write_study_outputs(out, study, tables, meta, config)
    tasks_frame = tables["tasks"].rename(columns={"single_val_rms_MeV": "single-task held-out RMS",
                                                  "multi_val_rms_MeV": "multi-task held-out RMS"})
    console.print(frame_table(tasks_frame, "held-out RMS per task", {"single-task held-out RMS": "MeV",
                                                                     "multi-task held-out RMS": "MeV"}))
    console.print(f"report: {path}")


@nuclear_app.command("controls")
@cli_errors
def controls_command(
    part: Annotated[str, typer.Option(help="controls (SEMF, no weight decay, structure over training), widths (the scan) or report")] = "report",
    steps: Annotated[int, typer.Option(help="steps of each control run")] = 40000,
    structure_every: Annotated[int, typer.Option(help="steps between structure measures of the control runs")] = 1000,
    widths: Annotated[str, typer.Option(help="widths of the scan, comma-separated")] = "64,128,256,512",
    scan_steps: Annotated[int, typer.Option(help="steps of each width (a fixed budget)")] = 3000,
    generations: Annotated[int, typer.Option(help="symbolic-regression generations per PC formula")] = 200,
    sr_pcs: Annotated[int, typer.Option(help="PC formulas of each analysis (the direct baseline gets their total budget)")] = 6,
    width: Annotated[int, typer.Option(help="width of the control runs, and the base width of --width-rate inverse-width")] = 64,
    width_rate: Annotated[str, typer.Option(help="peak learning rate of the scan: constant (the preset's) or inverse-width (the preset's × width/w)")] = "constant",
    zmin: Annotated[int, typer.Option(help="smallest Z of the nuclei")] = 8,
    nmin: Annotated[int, typer.Option(help="smallest N of the nuclei")] = 8,
    out: Annotated[Path, typer.Option(help="study folder (an existing study with the same settings is resumed)")] = Path("runs/nuclear-controls"),
) -> None:
    """The nuclear controls: SEMF pseudo-data, no weight decay, structure over training, a width scan."""
    from physlens.report.nuclear_controls import write_controls_outputs
    from physlens.studies import nuclear_controls
    from physlens.studies.bookkeeping import record_config

    try:
        width_list = tuple(int(w) for w in widths.split(","))
    except ValueError:
        raise PhyslensError(f"--widths must be comma-separated integers; got {widths!r}") from None
    check_choice("part", part, (*nuclear_controls.PARTS, "report"))
    study = nuclear_controls.ControlsConfig(steps=steps, structure_every=structure_every, widths=width_list,
                                            scan_steps=scan_steps, generations=generations, sr_pcs=sr_pcs, width=width,
                                            width_rate=width_rate, zmin=zmin, nmin=nmin, out=str(out))
    if part == "report":
        if not (out / "study.json").is_file():
            raise PhyslensError(f"{out} holds no controls study; allowed: a folder that --part controls or widths wrote")
        record_config(study)
    else:
        nuclear_controls.run_part(study, part)
    path = write_controls_outputs(out, nuclear_controls.collect(study), nuclear_controls.report_settings(study))
    console.print(f"report: {path}")


def register(app: typer.Typer) -> None:
    """Add the ``nuclear`` commands to the ``physlens`` app."""
    app.add_typer(nuclear_app, name="nuclear")


def demo(out: Path, force: bool = False) -> None:
    """The ``nuclear`` part of ``physlens demo``: a short multi-task run and its analysis under ``out``
    (a folder holding this run is reused; anything else is refused unless ``force`` moves it aside)."""
    from physlens.nuclear.analysis import analyse
    from physlens.nuclear.evaluate import evaluate
    from physlens.nuclear.train import NuclearTrainConfig, resume, train
    from physlens.report.nuclear import run_report

    cfg = NuclearTrainConfig(tasks=("B", "S_n", "S_p"), width=32, steps=1500, log_every=250, checkpoint_every=500)
    run = train_or_reuse(cfg, out, "nuclear run", train, resume, force=force)
    raise_if_failed(run)
    print_run(run, evaluate(run))
    analysis = analyse(run, n_pcs=6, sr_pcs=2, generations=20, population_size=100)
    console.print(analysis.best_pc_per_term().to_string(index=False))
    console.print(f"report: {run_report(run, analysis, out / 'report.html')}")
