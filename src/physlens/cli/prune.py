"""``physlens prune``: lottery tickets by iterative magnitude pruning with rewinding, and their controls.

    physlens prune tfim-4x4 --rounds 10 --fraction 0.3 --controls all --out runs/lottery-tfim
    physlens prune runs/chain12 --rounds 5 --seeds 0,1,2       # a trained FFNN run: its system and widths
    physlens prune study.toml                                   # a TOML StudyConfig (``preset = "..."`` allowed)
    physlens prune mlp.mpack --system tfim-chain --size 8 -p h=1 --model netket.MLP:hidden_dims=[16]
                                                                # a saved NetKet network: tickets rewind to it

Rerunning the same command on the same ``--out`` resumes: finished levels are kept, and where training goes network
by network (SR, or samples) every finished dense network and isolated control too.

    physlens prune-plaquette barton-toric-a8 --weights 0.5,1 --seeds 0,1 --steps 2000 --out runs/plaquette
                                                                # train from the toric code's plaquette mask
    physlens prune-merge runs/a1-s0 runs/a1-s1-2 --out runs/a1-s0-2
                                                                # studies of other seeds, joined into one
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from physlens.cli.common import (ModelOption, ParamOption, SizeOption, SystemOption, cli_errors, console, float_list,
                                 frame_table, int_list, note, open_source, parse_params)
from physlens.errors import PhyslensError

if TYPE_CHECKING:
    from physlens.studies.lottery_config import StudyConfig


def _base_config(target: str, system: str | None, size: int | None, params: list[str] | None, model: str | None):
    from physlens.runs import Run
    from physlens.studies.lottery_config import PRESETS, StudyConfig

    saved = system is not None or size is not None or bool(params) or model is not None
    if target in PRESETS and not saved:
        return StudyConfig.preset(target)
    path = Path(target)
    if path.is_file() and path.suffix != ".toml":
        if model is None:
            raise PhyslensError(f"pruning {path} needs --model (e.g. netket.MLP:hidden_dims=[16]) to rebuild the network")
        opened = open_source(path, system, size, params, model)
        return StudyConfig(system=opened.system.kind, size=size, system_params=parse_params(params or []), model=model,
                           start=str(path), seeds=(0,))
    if saved:
        raise PhyslensError("--system, --size, -p and --model go with a saved network file; a preset, run or TOML "
                            "config records its own")
    if path.is_dir():
        run = Run.open(path)
        run.require_usable()
        config = run.config
        if config.get("kind") != "nqs" or config.get("model") != "ffnn":
            raise PhyslensError(f"{path} is not an FFNN run; allowed: an FFNN nqs run, a preset ({', '.join(PRESETS)}) or a TOML file")
        return StudyConfig(system=config["system"], size=config["size"], system_params=config.get("system_params", {}),
                           widths=tuple(config["widths"]), seeds=(int(config["seed"]),),
                           learning_rate=StudyConfig().learning_rate)
    if path.suffix == ".toml":
        return StudyConfig.from_toml(path)
    raise PhyslensError(f"{target!r} is not a preset ({', '.join(PRESETS)}), a run directory or a .toml file")


def _controls(text: str) -> tuple[str, ...]:
    from physlens.lens.lottery import CONTROLS

    if text == "all":
        return CONTROLS
    if text == "none":
        return ()
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = [n for n in names if n not in CONTROLS]
    if unknown:
        raise PhyslensError(f"unknown control(s) {', '.join(unknown)}; allowed: all, none or a list of {', '.join(CONTROLS)}")
    return names


def _summary_table(summary) -> Table:
    reference = summary.study.get("reference")
    how = f"Monte Carlo energies against {reference}" if reference else "exact energies"
    table = Table(title=f"lottery tickets on {summary.study['system']} {summary.study['size']} ({how})")
    for col in ("level", "arm", "density", "median rel. error", "min", "max"):
        table.add_column(col, justify="right")
    for _, r in summary.curve.sort_values(["level", "arm"]).iterrows():
        table.add_row(str(r.level), r.arm, f"{r.density:.4f}", f"{r['median']:.3e}", f"{r.low:.2e}", f"{r.high:.2e}")
    return table


def _other_settings(config, out: Path) -> bool:
    from physlens.studies.lottery import check_resumable

    try:
        check_resumable(config, out)
    except PhyslensError:
        return True
    return False


def run_prune(config: StudyConfig, out: Path, force: bool = False, progress: bool = True) -> Path:
    """Run (or resume) the study, summarise it, write its CSV tables and ``out/report.html``; returns the report path.

    ``out`` must be missing, empty or a lottery study with the same settings (checked before anything is
    written); ``force`` moves a folder holding anything else aside."""
    from physlens.folders import claim, folder_kind
    from physlens.report.lottery import write_study_pages
    from physlens.studies.lottery import check_resumable, run_study
    from physlens.studies.lottery_summary import summarize

    if folder_kind(out) == "lottery study" and not (force and _other_settings(config, out)):
        check_resumable(config, out)
    else:
        aside = claim(out, "lottery study", force=force, resumable=False)
        if aside is not None:
            note(f"moved the earlier {out} aside to {aside}")
    run_study(config, out, progress=progress)
    summary = summarize(out)
    console.print(_summary_table(summary))
    for _, row in summary.claims.iterrows():
        console.print(f"{row.question}: {row.answer} ({row.detail})", markup=False, highlight=False)
    return write_study_pages(summary, out)


def prune_command(
    target: Annotated[str, typer.Argument(metavar="TARGET", help="a preset (tfim-4x4, tfim-chain, toric-code, tiny; Barton et al.'s "
                                                                   "figures: barton-4x4-a1, -a2.5, -a5, -a8, barton-6x6-a1, barton-10x10-a1, -a2.5, -a5, barton-toric-a8), an FFNN run "
                                                                   "directory, a TOML config, or a saved NetKet network "
                                                                   "(.mpack/.msgpack with --system, --size, --model)")],
    rounds: Annotated[Optional[int], typer.Option(help="pruning rounds R")] = None,
    fraction: Annotated[Optional[float], typer.Option(help="share of surviving weights pruned per round")] = None,
    controls: Annotated[Optional[str], typer.Option(help="all, none, or a list of reinit,random_mask,random_prune,init_imp (default: the config's); a finished study given more grows them")] = None,
    control_levels: Annotated[Optional[str], typer.Option(help="levels of the isolated controls reinit, random_mask, init_imp, e.g. 22,28 (default: the config's)")] = None,
    seeds: Annotated[Optional[str], typer.Option(help="initialisation seeds, e.g. 0,1,2 or 0-4")] = None,
    steps: Annotated[Optional[int], typer.Option(help="training steps per pruning level")] = None,
    dense_steps: Annotated[Optional[int], typer.Option(help="training steps of the dense level 0 (default: --steps)")] = None,
    learning_rate: Annotated[Optional[float], typer.Option("--lr", help="step size")] = None,
    optimizer: Annotated[Optional[str], typer.Option(help="adam, or sr (gradient steps on the SR-preconditioned gradient)")] = None,
    mode: Annotated[Optional[str], typer.Option(help="exact (full sums) or sampled (MetropolisLocal) training; energies are exact wherever the basis fits")] = None,
    rewind_step: Annotated[Optional[int], typer.Option(help="rewind survivors to this training step (0: θ_0)")] = None,
    scope: Annotated[Optional[str], typer.Option(help="global or layerwise magnitude pruning")] = None,
    out: Annotated[Path, typer.Option(help="study folder (an existing one with the same settings is resumed)")] = Path("runs/lottery"),
    force: Annotated[bool, typer.Option("--force", help="move an --out holding something else (or other settings) aside instead of refusing")] = False,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    system: SystemOption = None, size: SizeOption = None, param: ParamOption = None, model: ModelOption = None,
) -> None:
    """Find lottery tickets: IMP with rewinding and its controls; writes levels, tables and report.html.

    Energies are exact full sums where the basis fits (2^18 states); beyond it (barton-6x6-a1, barton-10x10-…) Monte
    Carlo estimates against a reference energy (DMRG, or the paper's own for 10×10).

    From a saved network the dense level continues from its weights and the tickets rewind to them. A finished study
    asked for controls it lacks (--controls, --control-levels; every other setting the same) trains just those."""
    overrides = {"rounds": rounds, "fraction": fraction, "steps": steps, "dense_steps": dense_steps,
                 "learning_rate": learning_rate, "optimizer": optimizer, "mode": mode,
                 "rewind_step": rewind_step, "scope": scope, "seeds": int_list(seeds) if seeds else None,
                 "control_levels": tuple(int_list(control_levels)) if control_levels else None}
    config = _base_config(target, system, size, param, model)
    overrides["controls"] = _controls(controls) if controls is not None else None
    config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})
    path = run_prune(config, out, force=force, progress=progress)
    console.print(f"report: {path}", markup=False, highlight=False)


def plaquette_command(
    target: Annotated[str, typer.Argument(metavar="TARGET", help="a toric-code preset (barton-toric-a8, toric-code) or "
                                                                   "TOML config: its network and training")] = "barton-toric-a8",
    weights: Annotated[str, typer.Option(help="weights |w| of the hand-built starts, e.g. 0.5,1")] = "0.5,1",
    seeds: Annotated[Optional[str], typer.Option(help="seeds of the random starts on the mask (default: the config's)")] = None,
    steps: Annotated[int, typer.Option(help="training steps of every network")] = 2000,
    out: Annotated[Path, typer.Option(help="a new or empty folder for plaquette.csv and plaquette.json")] = Path("runs/plaquette"),
) -> None:
    """Train from the toric code's plaquette mask (ρ = 16): from the hand-built exact network and from random starts.

    Answers whether the optimiser keeps, or finds, the exact state when handed the right connections; energies are
    exact full sums. Writes ``plaquette.csv`` (one row per network) and ``plaquette.json`` (the settings)."""
    import json

    from physlens.folders import folder_kind
    from physlens.runs import atomic_write_text
    from physlens.studies.plaquette_tickets import run_plaquette_check

    config = _base_config(target, None, None, None, None)
    if seeds:
        config = dataclasses.replace(config, seeds=int_list(seeds))
    values = float_list(weights, "--weights")
    held = folder_kind(out)
    if held is not None:
        raise PhyslensError(f"{out} holds {held}; allowed: a new or empty --out")
    if steps < 1:
        raise PhyslensError(f"--steps must be >= 1; got {steps}")
    frame = run_plaquette_check(config, values, steps)
    out.mkdir(parents=True, exist_ok=True)
    settings = {**dataclasses.asdict(config), "weights": values, "plaquette_steps": steps, "energy_method": "exact full sum"}
    atomic_write_text(out / "plaquette.json", json.dumps(settings, indent=1, default=list))
    atomic_write_text(out / "plaquette.csv", frame.to_csv(index=False))
    console.print(frame.drop(columns=["training", "steps"]).to_string(index=False), markup=False, highlight=False)


def overview_command(
    folder: Annotated[Path, typer.Argument(help="a folder whose sub-folders are lottery studies")],
    notes: Annotated[str, typer.Option(help="text for the page's About section")] = "",
) -> None:
    """One page over the lottery studies in FOLDER's sub-folders (FOLDER/report.html): each study's error curve,
    claims and filters, and the IMP curves of the widths on one system against weights per spin. Each study's own
    tables (levels.csv included) and report.html are rewritten from its saved levels too (so an interrupted study
    can be read), except in a study another process is running."""
    from physlens.folders import folder_kind, lock_holder, lock_is_stale
    from physlens.report.lottery import write_overview, write_study_pages
    from physlens.studies.lottery import write_levels_table
    from physlens.studies.lottery_summary import summarize

    studies = sorted(p.name for p in folder.iterdir() if folder_kind(p) == "lottery study") if folder.is_dir() else []
    names = [name for name in studies if (folder / name / "levels" / "level_00" / "level.json").is_file()]
    for name in sorted(set(studies) - set(names)):
        note(f"{folder / name} has no finished level yet; left out of the overview")
    if not names:
        raise PhyslensError(f"{folder} has no lottery study with a finished level in a sub-folder; allowed: the parent "
                            "of physlens prune --out folders")
    summaries = {name: summarize(folder / name) for name in names}
    for name, summary in summaries.items():
        holder = lock_holder(folder / name)
        if holder is None or lock_is_stale(holder):
            write_levels_table(folder / name)
            write_study_pages(summary, folder / name, nav=[("../report.html", "overview")])
        else:
            note(f"{folder / name} is being run by another process; its own tables and report were left alone")
    path = write_overview(summaries, folder / "report.html", notes)
    console.print(f"overview: {path}", markup=False, highlight=False)


def merge_command(
    folders: Annotated[list[Path], typer.Argument(metavar="STUDY...", help="lottery study folders that differ only in "
                                                  "their seeds (physlens prune --out)")],
    out: Annotated[Path, typer.Option(help="the new folder of the joined study")],
) -> None:
    """Join lottery studies run with different seeds into one study folder OUT, as if they had run together (every
    network depends on its own seed alone), and write its tables and report. The folders are only read; OUT must be
    new."""
    from physlens.report.lottery import write_study_pages
    from physlens.studies.lottery_merge import merge_studies
    from physlens.studies.lottery_summary import summarize

    merge_studies(folders, out)
    summary = summarize(out)
    path = write_study_pages(summary, out)
    console.print(f"joined seeds {', '.join(map(str, summary.study['seeds']))} into {out}; report: {path}",
                  markup=False, highlight=False)


def regrow_command(
    study: Annotated[Path, typer.Argument(metavar="STUDY", help="a lottery study folder (physlens prune --out)")],
    from_level: Annotated[int, typer.Option(help="the sparse IMP level to start from")],
    to_level: Annotated[int, typer.Option(help="the denser IMP level to climb to")],
    seed: Annotated[int, typer.Option(help="the IMP seed whose masks are climbed")] = 0,
) -> None:
    """Climb back up the IMP levels of one seed by regrowing the pruned weights (rewound values), training each level
    under the study's protocol: the upward path's exact errors and magnetisations beside IMP's, for hysteresis.
    Writes STUDY/regrowth-s<seed>-from-<level>/regrowth.csv; a rerun continues."""
    from physlens.folders import folder_kind
    from physlens.studies.lottery_regrowth import HYSTERESIS_FACTOR, hysteresis, regrow

    if folder_kind(study) != "lottery study":
        raise PhyslensError(f"{study} is not a lottery study folder; allowed: a physlens prune --out folder")
    frame = regrow(study, from_level, to_level, seed)
    shown = frame[["level", "rho", "error_down", "error_up", "ratio", "abs_m_z", "fidelity_dense"]]
    console.print(frame_table(shown.set_axis(["level", "ρ", "ε IMP (down)", "ε regrown (up)", "up/down", "⟨|m_z|⟩ up",
                                              "F with dense"], axis=1), "regrowth against IMP (exact full sums)"))
    verdict = hysteresis(frame)
    console.print(f"hysteresis (errors apart by more than {HYSTERESIS_FACTOR:g}x at some level): "
                  f"{'yes' if verdict['hysteresis'] else 'no'}; "
                  f"largest up/down {verdict['largest_ratio']:.3g} at rho {verdict['at_rho']:.3g}", markup=False,
                  highlight=False)


def rescue_command(
    study: Annotated[Path, typer.Argument(metavar="STUDY", help="a lottery study folder with exact errors")],
    seed: Annotated[int, typer.Option(help="the IMP seed whose ticket is rescued")] = 0,
    every_unit: Annotated[bool, typer.Option(help="give back every unit that spanned a lost term one level up, not "
                                                  "only the one needing the fewest weights")] = False,
) -> None:
    """At the first IMP level where SEED's ticket leaves an interaction term (a bond; on the toric code a plaquette)
    without a filter, give the ticket back that term's weights (term arm) or as many other pruned weights (control)
    and train both under the study's protocol: does the error return? Writes STUDY/rescue-s<seed>[-every-unit].csv."""
    from physlens.folders import folder_kind
    from physlens.studies.lottery_rescue import write_rescue

    if folder_kind(study) != "lottery study":
        raise PhyslensError(f"{study} is not a lottery study folder; allowed: a physlens prune --out folder")
    frame, path = write_rescue(study, seed, every_unit)
    shown = frame[["arm", "level", "rho", "weights_added", "rel_error"]]
    console.print(frame_table(shown.set_axis(["arm", "level", "ρ", "weights added", "relative error (exact)"], axis=1),
                              f"rescue, seed {seed}: lost {frame.term.iloc[0]}s {frame.lost_terms.iloc[0]}"))
    console.print(f"written: {path}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``prune``, ``prune-plaquette``, ``prune-overview``, ``prune-merge``, ``prune-regrow`` and
    ``prune-rescue`` commands."""
    app.command("prune")(cli_errors(prune_command))
    app.command("prune-plaquette")(cli_errors(plaquette_command))
    app.command("prune-overview")(cli_errors(overview_command))
    app.command("prune-merge")(cli_errors(merge_command))
    app.command("prune-regrow")(cli_errors(regrow_command))
    app.command("prune-rescue")(cli_errors(rescue_command))


def demo(out: Path, force: bool = False) -> None:
    """The ``prune`` part of ``physlens demo``: a 3-round pruning curve of a 6-site TFIM chain, written to ``out``
    (the same study there is resumed; anything else is refused unless ``force`` moves it aside)."""
    from physlens.studies.lottery_config import StudyConfig

    run_prune(StudyConfig.preset("tiny"), out, force=force)
