"""The report of the nuclear controls study: tables (CSV), figures (PNG) and one HTML page.

    write_controls_outputs(out, collect(study), report_settings(study))   # OUT/report.html, OUT/*.csv, OUT/figures/*.png

``collect`` and ``report_settings`` are those of ``physlens.studies.nuclear_controls``; this module only draws.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from physlens.report import nuclear_controls_figures as figs
from physlens.report.html import Figure, Report, Section, figure_png
from physlens.report.tables import Table
from physlens.runs import atomic_write_bytes, atomic_write_text

CONTROL_ACCURACY_COLUMNS = {"run": "run", "rms_model_val": "held-out B RMS [MeV]",
                            "rms_semf_val": "SEMF held-out B RMS [MeV]",
                            "rms_formula_val": "PC-route formula held-out RMS [MeV]", "seconds": "training time [s]"}
CONTROL_STRUCTURE_COLUMNS = {"run": "run", "range_helix_r2_Z": "Z helix R² (Z ∈ [25, 80])",
                             "range_helix_turns_Z": "Z helix turns", "range_helix_r2_N": "N helix R² (N ∈ [40, 120])",
                             "range_helix_turns_N": "N helix turns", "R_P_Z": "R_P (Z)", "R_P_N": "R_P (N)",
                             "volume_best_cos": "volume: best PC cos", "pairing_best_cos": "pairing: best PC cos",
                             "shell_P_best_cos": "shell P: best PC cos"}
"""Columns of the two control-run tables (accuracy, structure) and their human names: one table of all fourteen
scrolls sideways on a 1280-pixel screen."""
WIDTH_COLUMNS = {"width": "width", "learning_rate": "peak learning rate", "n_parameters": "parameters", "seconds_per_step": "time per step [s]",
                 "seconds": "training time [s]", "val_rms_B": "held-out B RMS [MeV]", "helix_r2_Z": "Z helix R²",
                 "helix_turns_Z": "Z helix turns", "helix_r2_N": "N helix R²", "helix_turns_N": "N helix turns",
                 "cos_shell_P": "shell P: best PC |cos|", "cos_pairing": "pairing: best PC |cos|",
                 "trained": "trained (training B RMS < 30 MeV)"}
"""Columns of the width-scan table and their human names."""


def _figure(fig: plt.Figure, caption: str, folder: Path, name: str) -> Figure:
    png = figure_png(fig)
    atomic_write_bytes(folder / f"{name}.png", png)
    return Figure(png, caption)


def _table(frame: pd.DataFrame, columns: dict[str, str], caption: str) -> Table:
    """The columns of ``frame`` named in ``columns`` (those present), shown under their human names as given."""
    return Table(frame[[c for c in columns if c in frame]], caption, labels=columns)


def write_controls_outputs(out: Path | str, tables: dict[str, pd.DataFrame], settings: dict) -> Path:
    """Write ``controls.csv``, ``widths.csv``, ``structure.csv``, ``extrapolation.csv``, ``perturbation.csv``,
    ``terms.csv``, ``figures/*.png`` and ``report.html`` into the study folder ``out``; returns the report's path.

    ``settings`` holds the study's settings (``structure_every``, ``scan_steps``, …) and the thresholds
    ``helix_r2``, ``multi_turn``, ``shell_match``."""
    out = Path(out)
    figures = out / "figures"
    for name in ("controls", "widths", "structure", "extrapolation", "perturbation", "terms"):
        atomic_write_text(out / f"{name}.csv", tables[name].to_csv(index=False))
    sections = []
    controls = tables["controls"]
    if len(controls):
        text = ("Runs of the default preset (width 64, depth 2, 40,000 AdamW steps, minibatches of 256): "
                "measured AME2020 targets; the same without weight decay (the paper's Fig. 24); every task "
                "replaced by the SEMF fitted on the training nuclei (the paper's Figs. 14–15); measured targets with "
                "Z and N added as auxiliary targets of weight 1 (as the paper tried). Helix fits are over "
                "the paper's range (Z ∈ [25, 80], N ∈ [40, 120]); all measures are exact over the nuclei.")
        direct = controls[controls.run == "measured"]
        tables_ = [_table(controls, CONTROL_ACCURACY_COLUMNS, "Control runs: accuracy"),
                   _table(controls, CONTROL_STRUCTURE_COLUMNS, "Control runs: structure of the embeddings")]
        if len(direct) and "rms_direct_val" in direct:
            row = direct.iloc[0]
            text += (f" Direct symbolic baseline (Operon on (Z, N) → B, {int(row.direct_generations)} generations, "
                     f"the PC route's total budget): held-out {row.rms_direct_val:.2f} MeV against "
                     f"{row.rms_formula_val:.2f} MeV by the PC route and {row.rms_semf_val:.2f} MeV for the SEMF.")
            tables_.append(Table(pd.DataFrame([{"formula": row.direct_formula, "held-out RMS [MeV]": row.rms_direct_val,
                                                "training RMS [MeV]": row.rms_direct_train,
                                                "search time [s]": row.direct_seconds}]), "Direct symbolic baseline"))
        sections.append(Section("SEMF pseudo-data and weight decay", text, tables=tables_))
        shown = []
        predictions, targets = tables["predictions"], tables["targets"]
        for name in sorted({"measured", "semf"} & set(predictions.get("run", ()))):
            shown.append(_figure(figs.helix_predictions(predictions[predictions.run == name],
                                                        targets[targets.run == name]),
                                 f"Run {name}: predicted B/A against A (mean over nuclei of each A) with each "
                                 "embedding's helix redrawn with its radius, frequency or pitch (length) scaled; "
                                 "grey: the run's targets.", figures, f"helix_predictions_{name}"))
        if shown:
            sections.append(Section("Helix perturbations as predictions", "What the model predicts when the helix "
                                    "part of every embedding row is redrawn with one parameter changed.", figures=shown,
                                    tables=[Table(tables["perturbation"], "B RMS [MeV] with the helix redrawn")]))
    if len(tables["structure"]):
        sections.append(Section("Structure over training", f"Measured every {settings['structure_every']} steps from step 0 "
                                "(physlens.nuclear.structure), as in the paper's Fig. 16.",
                                figures=[_figure(figs.structure_over_training(tables["structure"]),
                                                 "Orderedness, parity split, helix R² and turns over the paper's range, "
                                                 "and the best |cos| of a penultimate PC with the volume, pairing and "
                                                 "shell terms, against training step, per control run.", figures,
                                                 "structure_over_training")]))
    widths = tables["widths"]
    if len(widths):
        rate = ("the preset's peak learning rate at every width" if settings.get("width_rate", "constant") == "constant"
                else f"the preset's peak learning rate × {settings['width']}/width (the μP rule for Adam's hidden "
                     "matrices, here on every parameter with the standard initialisation)")
        text = (f"The default preset at each width for {settings['scan_steps']:,} steps (a fixed budget on this machine's "
                f"CPU), at {rate}. A helix counts as present at R² ≥ {settings['helix_r2']} (multi-turn with ≥ "
                f"{settings['multi_turn']:g} turns), a shell PC at |cos| ≥ {settings['shell_match']}; the extrapolation fits each measure linearly in log2(width).")
        for row in widths[~widths.trained].itertuples():
            text += (f" Width {int(row.width)} did not train at peak rate {row.learning_rate:.3g} (training B RMS "
                     f"{row.train_rms_B:,.0f} MeV) and is left out of the trends.")
        figs_ = [_figure(figs.width_scan(widths, tables["extrapolation"]), "Helix R², best PC–term |cos| and B RMS "
                         "against width; dotted: the log-linear trend, grey lines: the thresholds.", figures, "width_scan")] \
            if widths.trained.sum() >= 2 else []
        sections.append(Section("Width scan", text, figures=figs_,
                                tables=[_table(widths, WIDTH_COLUMNS, "Width scan"),
                                        Table(tables["extrapolation"], "Where the trends reach the thresholds")]))
    meta = ["exact over all nuclei (no sampling); energies in MeV",
            "command: physlens nuclear controls --part controls; --part widths; --part report"]
    title = ("Nuclear controls: SEMF pseudo-data, weight decay, structure over training, width" if len(controls)
             else "Nuclear width scan")
    report = Report(title,
                    sections, meta, config={k: v for k, v in settings.items()
                                            if k not in ("helix_r2", "multi_turn", "shell_match")})
    return report.write(out / "report.html")
