"""The nuclear study's controls: SEMF pseudo-data, no weight decay, structure over training, a width scan.

Kitouni et al. ("From Neurons to Neutrons", arXiv 2405.17425) see their cleanest helix on a
model trained on SEMF binding energies (Figs. 1 right, 14, 15), follow the structure over
training (Fig. 16) and show what removing weight decay does (Fig. 24); their model is
width 2048. This study trains, on this machine:

- four ``CONTROLS`` of the default preset (width 64, 40,000 steps), each recording the
  structure measures every ``structure_every`` steps: measured targets; measured without
  weight decay; SEMF pseudo-data (``target_source = "semf"``); measured with Z and N as auxiliary
  targets (weight 1 each, as the paper tried, its Appendix B); each fully analysed
  (``nuclear.analysis.analyse``), the measured one also with the direct symbolic baseline;
- a width scan: the default preset at each of ``widths`` for ``scan_steps`` steps (a
  fixed budget), measuring the helix over the paper's range, the shell-term match and the
  held-out RMS against width, with a log-linear extrapolation of the width at which the
  helix fit would reach R² ``HELIX_R2`` (over the widths that trained: ``UNTRAINED_RMS_MEV``) (present; multi-turn with ``MULTI_TURN`` turns) and
  a penultimate PC the shell term at |cos| ``SHELL_MATCH``.

Every part resumes (runs continue from their checkpoints; finished results are files in
``out/results``) and two parts may run at once in two processes on one folder::

    study = ControlsConfig(out="docs/studies/nuclear/controls")
    run_part(study, "controls"); run_part(study, "widths"); tables = collect(study)
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from physlens.errors import PhyslensError, check_choice
from physlens.nuclear import structure
from physlens.nuclear.data import STUDY_NMIN, STUDY_ZMIN
from physlens.nuclear.targets import DEFAULT_TASKS
from physlens.nuclear.analysis import NuclearAnalysis, analyse, direct_formula, perturb_helix
from physlens.nuclear.train import load, train_or_resume
from physlens.nuclear.training_config import NuclearTrainConfig, preset
from physlens.runs import atomic_write_text
from physlens.studies.bookkeeping import record_config, write_parquet

CONTROLS: dict[str, dict] = {
    "measured": {},
    "measured-no-wd": {"weight_decay": 0.0},
    "semf": {"target_source": "semf"},
    "measured-aux-ZN": {"tasks": (*DEFAULT_TASKS, "Z", "N")},
}
"""Control runs: name → settings over the default preset."""
PARTS = ("controls", "widths")
UNTRAINED_RMS_MEV = 30.0
"""Training B RMS (MeV) above which a width counts as not trained (ten times the fitted SEMF's ~3 MeV): such a
model has not learned binding energies, its structure measures say nothing, and the extrapolation leaves it out."""
MAX_EXTRAPOLATED_WIDTH = 2**20
"""Widths beyond which a log-linear trend says nothing (ten doublings past the paper's 2048 and far beyond any
scanned width): a threshold reached only there is reported as never (inf)."""
HELIX_R2 = 0.9
"""R² of the range-helix fit above which the helix counts as present (its turns are then meaningful)."""
MULTI_TURN = 2.0
"""Turns of a present helix counted as "multi-turn" (the paper's Fig. 1 helix winds about twice over N ∈ [40, 120])."""
SHELL_MATCH = 0.8
"""|cos| between a penultimate PC and the shell term P counted as "a PC matching the shell term"."""
WIDTH_RATES = ("constant", "inverse-width")
"""Peak learning rate of the scan's widths: the preset's at every width, or the preset's × ``width``/w at width w
(the learning-rate rule of μP for Adam on hidden weight matrices, Yang et al., "Tensor Programs V", arXiv
2203.03466, Table 3, applied here to every parameter with the standard initialisation: a rate scaling, not μP)."""


@dataclass(frozen=True)
class ControlsConfig:
    """Settings of the controls study (pinned in ``out/study.json``).

    Attributes:
        steps: optimiser steps of each control run.
        structure_every: steps between structure measures of the control runs.
        widths: widths of the scan.
        scan_steps: optimiser steps of each width (a multiple of 250).
        generations: Operon generations per PC formula of the analysis (the direct baseline gets
            ``sr_pcs`` times as many).
        sr_pcs: PC formulas of the analysis.
        width: width of the control runs, and the base width of the ``inverse-width`` rate.
        width_rate: peak learning rate of the scan, one of ``WIDTH_RATES``.
        zmin: smallest Z of the nuclei (the default preset's 8).
        nmin: smallest N of the nuclei (the default preset's 8).
        out: study folder.
    """

    steps: int = 40000
    structure_every: int = 1000
    widths: tuple[int, ...] = (64, 128, 256, 512)
    scan_steps: int = 3000
    generations: int = 200
    sr_pcs: int = 6
    width: int = 64
    width_rate: str = "constant"
    zmin: int = STUDY_ZMIN
    nmin: int = STUDY_NMIN
    out: str = "runs/nuclear-controls"

    def __post_init__(self):
        if not self.widths or min(self.widths) < 1 or self.scan_steps % 250 or self.scan_steps < 250:
            raise PhyslensError(f"widths must be >= 1 and scan_steps a positive multiple of 250; got "
                                f"{list(self.widths)}, {self.scan_steps}")
        check_choice("width rate", self.width_rate, WIDTH_RATES)

    def control_config(self, name: str) -> NuclearTrainConfig:
        """The ``NuclearTrainConfig`` of control ``name`` (a key of ``CONTROLS``): the default preset at the
        study's width, steps, ``structure_every``, ``zmin`` and ``nmin``, with the control's settings."""
        return preset("default", width=self.width, steps=self.steps, structure_every=self.structure_every,
                      zmin=self.zmin, nmin=self.nmin, **CONTROLS[name])

    def width_config(self, width: int) -> NuclearTrainConfig:
        """The ``NuclearTrainConfig`` of the scan at ``width``: the default preset for ``scan_steps`` steps
        (structure measured at the start and end), peak rate per ``width_rate``."""
        rate = preset("default").learning_rate * (self.width / width if self.width_rate == "inverse-width" else 1.0)
        return preset("default", width=width, steps=self.scan_steps, structure_every=self.scan_steps, zmin=self.zmin,
                      nmin=self.nmin, learning_rate=rate)


def _analysis_files(out: Path, name: str, analysis: NuclearAnalysis) -> None:
    write_parquet(out / "results" / f"{name}-perturbation.parquet", analysis.helix_perturbation.assign(run=name))
    write_parquet(out / "results" / f"{name}-terms.parquet", analysis.best_pc_per_term().assign(run=name))


def run_control(study: ControlsConfig, name: str) -> None:
    """Train (or resume) one control run, analyse it and store its results (skipped when stored)."""
    out = Path(study.out)
    result = out / "results" / f"{name}.json"
    if result.exists():
        return
    run = load(train_or_resume(study.control_config(name), out / "runs" / name, progress=False).path)
    analysis = analyse(run, sr_pcs=study.sr_pcs, generations=study.generations)
    _analysis_files(out, name, analysis)
    write_parquet(out / "results" / f"{name}-structure.parquet", structure.frame(run).assign(run=name))
    row = {"run": name, **CONTROLS[name], **analysis.summary(), "seconds": run.status.get("seconds"),
           "n_parameters": run.status.get("n_parameters")}
    if name == "measured":
        direct = direct_formula(run, sr_pcs=study.sr_pcs, generations=study.generations)
        row |= {"direct_formula": direct.fit.expression, "direct_generations": direct.generations,
                "rms_direct_train": direct.rms_train, "rms_direct_val": direct.rms_val,
                "direct_seconds": direct.fit.seconds,
                "pc_route_seconds": float(sum(f.seconds for f in analysis.symbolic))}
    atomic_write_text(result, json.dumps(row, indent=1, default=float))


def run_width(study: ControlsConfig, width: int) -> None:
    """Train (or resume) the scan's model of one width and store its row (skipped when stored)."""
    out = Path(study.out)
    result = out / "results" / f"width-{width}.json"
    if result.exists():
        return
    run = train_or_resume(study.width_config(width), out / "runs" / f"width-{width}", progress=False)
    final = structure.frame(run).iloc[-1].to_dict()
    status = run.status
    row = {"width": width, "steps": status["step"], "n_parameters": status.get("n_parameters"),
           "seconds": status.get("seconds"), "seconds_per_step": status.get("seconds", np.nan) / status["step"],
           "val_rms_B": status.get("val_rms_B"), "train_rms_B": status.get("train_rms_B"), **final}
    atomic_write_text(result, json.dumps(row, indent=1, default=float))


def run_part(study: ControlsConfig, part: str) -> None:
    """Run one part (``controls`` or ``widths``) of the study, pinning its settings in ``out/study.json``."""
    check_choice("part", part, PARTS)
    record_config(study)
    (Path(study.out) / "results").mkdir(parents=True, exist_ok=True)
    if part == "controls":
        for name in CONTROLS:
            run_control(study, name)
    else:
        for width in study.widths:
            run_width(study, width)


def extrapolate(widths: pd.DataFrame, column: str, target: float) -> float:
    """The width at which a log-linear fit ``column = a + b·log2(width)`` reaches ``target``: NaN when the
    fit does not rise towards it (b ≤ 0 below the target), inf when it reaches it only beyond
    ``MAX_EXTRAPOLATED_WIDTH``, the smallest scanned width when already reached."""
    w_W, y_W = widths.width.to_numpy(float), widths[column].to_numpy(float)
    if (y_W >= target).any():
        return float(w_W[y_W >= target].min())
    b, a = np.polyfit(np.log2(w_W), y_W, 1)
    if b <= 0:
        return float("nan")
    doublings = (target - a) / b
    return float(np.exp2(doublings)) if doublings <= np.log2(MAX_EXTRAPOLATED_WIDTH) else float("inf")


def _store_predictions(out: Path, name: str) -> None:
    """Store the helix-perturbation predictions and the targets of control run ``name`` (when its run folder
    has finished and they are not stored yet): ``results/<name>-predictions.parquet``, ``-targets.parquet``."""
    run_dir = out / "runs" / name
    if (out / "results" / f"{name}-predictions.parquet").exists() or not (run_dir / "params.msgpack").exists():
        return
    run = load(run_dir)
    write_parquet(out / "results" / f"{name}-targets.parquet",
                  run.system.nuclei[["Z", "N", "B"]].reset_index(drop=True).assign(run=name))
    write_parquet(out / "results" / f"{name}-predictions.parquet", perturb_helix(run)[1].assign(run=name))


def collect(study: ControlsConfig) -> dict[str, pd.DataFrame]:
    """The study's tables from its stored results: ``controls``, ``structure``, ``perturbation``, ``terms``,
    ``predictions`` and ``targets`` (the helix perturbations' predicted B and the runs' target B per nucleus),
    ``widths`` and ``extrapolation`` (whatever parts have finished)."""
    results = Path(study.out) / "results"
    for name in CONTROLS:
        if (results / f"{name}.json").exists():
            _store_predictions(Path(study.out), name)
    read = [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]
    tables = {"controls": pd.DataFrame([r for r in read if "run" in r]),
              "widths": pd.DataFrame([r for r in read if "width" in r]).sort_values("width", ignore_index=True)
              if any("width" in r for r in read) else pd.DataFrame()}
    for kind in ("structure", "perturbation", "terms", "predictions", "targets"):
        files = sorted(results.glob(f"*-{kind}.parquet"))
        tables[kind] = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else pd.DataFrame()
    widths = tables["widths"]
    if len(widths):
        widths["trained"] = widths.train_rms_B < UNTRAINED_RMS_MEV
        widths.insert(1, "learning_rate", [study.width_config(int(w)).learning_rate for w in widths.width])
    rows = []
    trained = widths[widths.trained] if len(widths) else widths
    if len(trained) >= 2:
        for column, target, meaning in (("helix_r2_Z", HELIX_R2, "R² of the Z helix over Z ∈ [25, 80]"),
                                        ("helix_r2_N", HELIX_R2, "R² of the N helix over N ∈ [40, 120]"),
                                        ("cos_shell_P", SHELL_MATCH, "best |cos| of a penultimate PC with shell P")):
            b, a = np.polyfit(np.log2(trained.width.to_numpy(float)), trained[column].to_numpy(float), 1)
            rows.append({"measure": meaning, "column": column, "threshold": target, "slope_per_doubling": b,
                         "predicted_width": extrapolate(trained, column, target),
                         "widths_fitted": ", ".join(str(int(w)) for w in trained.width)})
    tables["extrapolation"] = pd.DataFrame(rows)
    return tables


def config_dict(study: ControlsConfig) -> dict:
    """The settings as recorded (without ``out``)."""
    return {k: v for k, v in dataclasses.asdict(study).items() if k != "out"}


def report_settings(study: ControlsConfig) -> dict:
    """What the report states besides the tables: the settings and the thresholds of the extrapolation."""
    return {**config_dict(study), "helix_r2": HELIX_R2, "multi_turn": MULTI_TURN, "shell_match": SHELL_MATCH}
