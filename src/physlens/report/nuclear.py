"""HTML reports of the nuclear analysis (one run) and of the nuclear study.

    run_report(run, analyse(run), "runs/nuclear/report.html", figures_dir="docs/studies/nuclear/figures")
    write_study_outputs("docs/studies/nuclear", study, tables, meta, config=asdict(study))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from physlens.nuclear.analysis import NuclearAnalysis
from physlens.nuclear.terms import term_vectors
from physlens.report import nuclear_figures as figs
from physlens.report.html import Figure, Report, Section, figure_png
from physlens.report.labels import NUCLEAR_TASKS, label
from physlens.report.tables import Table, format_value, quantities
from physlens.runs import Run, atomic_write_bytes, atomic_write_text


HEADLINE = ("n_nuclei", "n_train", "rms_model_val", "rms_semf_train", "rms_semf_val", "rms_formula_train",
            "rms_formula_val", "pc0_best_term", "pc0_best_cos")
"""Keys of ``NuclearAnalysis.summary()`` shown in the headline table; the rest go in a folded table."""


def _saved(figures: dict[str, tuple[plt.Figure, str]], folder: Path | None) -> list[Figure]:
    """The (figure, caption) pairs in order as report figures, each first written to ``folder/<name>.png``
    when a folder is given."""
    out = []
    for name, (fig, caption) in figures.items():
        png = figure_png(fig)
        if folder is not None:
            atomic_write_bytes(Path(folder) / f"{name}.png", png)
        out.append(Figure(png, caption))
    return out


def _helix_table(analysis: NuclearAnalysis) -> pd.DataFrame:
    rows = []
    for name, g in analysis.embeddings.items():
        fits = [("all periods", g.helix), ("period ≥ 4", g.slow_helix)]
        if g.range_helix is not None:
            fits.append((f"period ≥ 4, {name} ∈ [{g.fit_range[0]}, {g.fit_range[1]}] (the paper's range)", g.range_helix))
        for fit_name, h in fits:
            rows.append({"embedding": name, "fit": fit_name, "R²": h.r2, "period": 1.0 / h.frequency,
                         "turns": h.turns, "radius": h.radius, "pitch": h.pitch})
    return pd.DataFrame(rows)


def readout_names(per_nucleon: bool) -> tuple[str, str]:
    """The B readout of a model (``B/A`` or ``B``) and the subtitle that tells its report apart."""
    if per_nucleon:
        return "B/A", "Model reading out the binding energy per nucleon B/A (the per-nucleon target)"
    return "B", "Model reading out the total binding energy B (the default target)"


def run_report(run: Run, analysis: NuclearAnalysis, path: Path | str, figures_dir: Path | str | None = None,
               nav: list[tuple[str, str]] = ()) -> Path:
    """Write the single-run report (and, with ``figures_dir``, each figure as PNG); returns its path.

    The page names the run by its folder name only (no absolute path); ``nav`` links to the pages around it.
    """
    folder = None if figures_dir is None else Path(figures_dir)
    a, summary = analysis, analysis.summary()
    nuclei = a.nuclei
    terms = term_vectors(nuclei.Z, nuclei.N)
    emb = {f"embedding_{w}": (figs.embedding_pcs(g), f"Rows of the {w} embedding table on PCs 0–1 and 1–2 (colour: {w}), "
                              f"and PC0 against {w} for even and odd {w}.") for w, g in a.embeddings.items()}
    hel = {f"helix_{w}": (figs.helix(g), f"Coordinates of the {w} embedding rows on the helix PCs against {w}, with the "
                          "fitted helix (left), and the PC0–PC1 plane with the helix (right).")
           for w, g in a.embeddings.items()}
    per_nucleon = run.model.binding_per_nucleon
    readout, subtitle = readout_names(per_nucleon)
    combination = "B = A·(c0 + Σ c_k f_k(Z, N))" if per_nucleon else "B = c0 + Σ c_k f_k(Z, N)"
    topo = {"topography": (figs.topography(a.topography, a.topography_N, a.embeddings["Z"].index_T, readout),
                           f"Predicted {readout} [MeV] over the plane of Z-embedding PCs 0 and 1 at N = {a.topography_N}; "
                           "dots: the real Z rows (colour: Z).")}
    maps = {"pc_maps": (figs.pc_maps(nuclei, a.penultimate.projections_BK, terms, a.match.best_frame()),
                        "Leading penultimate PCs as maps over the nuclide chart (N across, Z up, centred) beside their "
                        "best-matched physics term.")}
    trunc = {"truncation": (figs.truncation(a.truncation, a.rms_semf_val),
                            "Binding-energy RMS over all nuclei [MeV] against the number of PCs kept, per layer, with the "
                            "untouched model and the fitted SEMF.")}
    last = run.metrics().iloc[-1].to_dict()
    symbolic = a.symbolic_frame()
    headline = {k: v for k, v in summary.items() if k in HEADLINE}
    geometry = {k: v for k, v in summary.items() if k not in HEADLINE}
    sections = [
        Section("Headline figures",
                f"Held-out binding-energy RMS: model {a.rms_model_val:.3f} MeV, SEMF fitted on the same training "
                f"nuclei {a.rms_semf_val:.3f} MeV, symbolic formula {a.formula.rms_test:.3f} MeV "
                f"({int((~nuclei.train).sum())} held-out of {len(nuclei)} experimental nuclei). Every analysis "
                "below is exact over all nuclei (no sampling); energies in MeV.",
                tables=[Table(quantities(headline), "Headline numbers"),
                        Table(quantities(geometry), "Embedding geometry and PC–term matches in numbers")]),
        Section("Training", "RMS per task at the last logged step.",
                tables=[Table(quantities(last), f"Training and held-out RMS at step {int(last.get('step', 0))}")]),
        Section("Embeddings: order and parity",
                "Rows of the Z and N embedding tables (only the proton and neutron numbers that occur in the data) "
                "on their leading principal components, coloured by Z or N. Orderedness is |Spearman ρ| between the "
                "index and PC0; R_P = 2·d(even, odd)/(d(even, even) + d(odd, odd)).",
                figures=_saved(emb, folder)),
        Section("Helix",
                "A helix r(t) = R[cos(2πft+φ)u + sin(2πft+φ)v] + P·t·a + r₀ fitted to each table's coordinates on "
                "its first three PCs, t = Z or N: the best fit over all periods, and the best with period ≥ 4 (which "
                "the even/odd zig-zag of period 2 cannot imitate); turns = f × the range of t. The second table "
                "gives the binding-energy RMS when the helix part "
                "of every row is redrawn with R, f or P scaled ('none' reproduces the model).",
                figures=_saved(hel, folder),
                tables=[Table(_helix_table(a), "Helix fits per embedding"),
                        Table(a.helix_perturbation, "Binding-energy RMS [MeV] with the helix redrawn")]),
        Section("Latent topography",
                f"Predicted {readout} with the Z embedding replaced by points of the plane of its PCs 0 and 1 (other PCs at "
                f"their mean), N = {a.topography_N}; dots are the real Z rows.",
                figures=_saved(topo, folder)),
        Section("Penultimate PCs and the mass formula",
                "Cosine similarity (centred, i.e. Pearson r) of each penultimate PC, as a map over the nuclei, with "
                "each physics term; the figure shows the leading PCs beside their best-matched term.",
                figures=_saved(maps, folder),
                tables=[Table(a.match.to_frame().reset_index(), "Cosine similarity of each penultimate PC with each term"),
                        Table(a.match.best_frame().reset_index(), "Best-matched term per PC"),
                        Table(a.best_pc_per_term(), "Best-matched PC per term")]),
        Section("PC truncation",
                "Binding-energy RMS over all nuclei when a layer's activations are projected onto their first k PCs "
                "(residual streams flattened over the three tokens).",
                figures=_saved(trunc, folder),
                tables=[Table(c.to_frame().reset_index().assign(hook=h), f"Truncation of {h}")
                        for h, c in a.truncation.items()]),
        Section("Symbolic regression",
                "Formulas for the leading penultimate PCs as functions of (Z, N), found by Operon on the training "
                f"nuclei, then combined by least squares into {combination} (the readout predicts "
                f"{readout}). Formula RMS: train {a.formula.rms_train:.3f} MeV, held-out {a.formula.rms_test:.3f} MeV; "
                f"SEMF: train {a.rms_semf_train:.3f}, held-out {a.rms_semf_val:.3f} MeV.",
                tables=[Table(symbolic, "One formula per leading PC"), Table(a.formula.to_frame(), "Combined formula")]),
    ]
    meta = [f"run {run.path.name}: {run.status['state']} after {run.status['step']} steps",
            "versions: " + ", ".join(f"{k} {v}" for k, v in run.versions.items())]
    return Report(f"Representation geometry of the nuclear model {run.path.name}", sections, meta, subtitle=subtitle,
                  config=run.config, nav=list(nav)).write(path)


def _markdown(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def fraction_summary(fractions: pd.DataFrame) -> pd.DataFrame:
    """Per training fraction: mean and sd over seeds of the held-out B RMS, orderedness and R_P."""
    cols = ["val_rms_B", "semf_val_rms_B", "orderedness_Z", "orderedness_N", "R_P_Z", "R_P_N"]
    grouped = fractions.groupby("fraction")[[c for c in cols if c in fractions]]
    out = grouped.mean().add_suffix("_mean").join(grouped.std().add_suffix("_sd"))
    return out.reset_index().assign(models=fractions.groupby("fraction").size().to_numpy())


def _mean_sd(summary: pd.DataFrame) -> pd.DataFrame:
    """The ``fraction_summary`` frame with each ``*_mean``/``*_sd`` pair as one 'mean ± sd' column."""
    out = summary[[c for c in ("fraction", "models") if c in summary]].copy()
    for mean in [c for c in summary.columns if c.endswith("_mean")]:
        base = mean.removesuffix("_mean")
        out[label(base)] = [f"{format_value(m)} ± {format_value(sd, 2)}" for m, sd in zip(summary[mean], summary[f"{base}_sd"])]
    return out


def study_report(study: Any, tables: dict[str, pd.DataFrame], meta: list[str], figures_dir: Path | str | None = None,
                 config: dict | None = None, links: list[tuple[str, str]] = ()) -> Report:
    """The study page from ``collect`` tables (figures also written to ``figures_dir`` when given);
    ``config`` is shown as a table and ``links`` (relative) lead to the single-run reports beside it."""
    fractions, tasks = tables["fractions"], tables["tasks"]
    summary = fraction_summary(fractions) if len(fractions) else pd.DataFrame()
    folder = None if figures_dir is None else Path(figures_dir)
    structure = {"study_structure": (figs.study_structure(fractions), "Left and middle: orderedness and R_P of the Z "
                                     "(circles) and N (squares) embeddings against each model's held-out B RMS "
                                     "(colour: training fraction). Right: held-out B RMS against the training fraction, "
                                     "mean ± sd over seeds, with the fitted SEMF.")} if len(fractions) else {}
    single = ({"single_vs_multi": (figs.single_vs_multi(tasks), "Held-out RMS per target [MeV, log scale]: one "
                                   "single-task model per target against the multi-task model.")}
              if tasks.single_val_rms_MeV.notna().any() else {})
    sections = [Section("Training fraction",
                        f"{len(study.seeds)} seeds per fraction (each seed draws the split and the initialisation); "
                        f"every model trains {study.steps} AdamW steps (study preset). Correlation of orderedness "
                        "and R_P with the held-out B RMS over all models: "
                        + ", ".join(f"{label(c)}: ρ_s = {_spearman(fractions, c):+.2f}" for c in
                                    ("orderedness_Z", "orderedness_N", "R_P_Z", "R_P_N") if c in fractions),
                        figures=_saved(structure, folder),
                        tables=[Table(_mean_sd(summary), "Per training fraction: mean ± sd over seeds")]),
                Section("Single- vs multi-task",
                        f"Held-out RMS per observable at training fraction {study.single_fraction}, seed "
                        f"{study.single_seed}: one model per task against the multi-task model.",
                        figures=_saved(single, folder),
                        tables=[Table(tasks.assign(task=tasks.task.map(lambda t: NUCLEAR_TASKS.get(t, t))),
                                      "Held-out RMS per target")])]
    if links:
        sections.insert(0, Section("Single-model reports", "The full analysis of single trained models:",
                                   links=list(links)))
    return Report("Nuclear study: embedding structure vs training fraction", sections, meta, config=config)


def write_study_outputs(out: Path | str, study: Any, tables: dict[str, pd.DataFrame], meta: list[str],
                        config: dict | None = None) -> Path:
    """Write ``models.csv``, ``fraction_summary.csv``, ``tasks.csv``, ``study_tables.md``, ``study_report.html``
    and its figures as ``figures/*.png``; ``config`` is shown in the report as a table."""
    out = Path(out)
    fractions, tasks = tables["fractions"], tables["tasks"]
    summary = fraction_summary(fractions) if len(fractions) else pd.DataFrame()
    for name, frame in (("models", tables["models"]), ("fraction_summary", summary), ("tasks", tasks)):
        atomic_write_text(out / f"{name}.csv", frame.to_csv(index=False))
    atomic_write_text(out / "study_tables.md", f"## Training fraction (mean, sd over seeds)\n\n{_markdown(summary)}\n\n"
                                               f"## Single- vs multi-task held-out RMS (MeV)\n\n{_markdown(tasks)}\n")
    return study_report(study, tables, meta, out / "figures", config).write(out / "study_report.html")


def _spearman(frame: pd.DataFrame, column: str) -> float:
    valid = frame[[column, "val_rms_B"]].dropna()
    if len(valid) < 3:
        return float("nan")
    return float(np.corrcoef(valid[column].rank(), valid.val_rms_B.rank())[0, 1])
