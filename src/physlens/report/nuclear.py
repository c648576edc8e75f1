"""HTML reports of the nuclear analysis (one run) and of the nuclear study.

    run_report(run, analyse(run), "runs/nuclear/report.html", figures_dir="docs/studies/nuclear/figures")
    write_study_outputs("docs/studies/nuclear", study, tables, meta)
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from physlens.nuclear.analysis import NuclearAnalysis
from physlens.nuclear.terms import term_vectors
from physlens.report import nuclear_figures as figs
from physlens.report.html import Report, Section
from physlens.runs import Run, atomic_write_bytes, atomic_write_text


def _saved(figures: dict[str, plt.Figure], folder: Path | None) -> list[plt.Figure]:
    """The figures in order, each first written to ``folder/<name>.png`` when a folder is given."""
    if folder is not None:
        for name, fig in figures.items():
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
            atomic_write_bytes(Path(folder) / f"{name}.png", buf.getvalue())
    return list(figures.values())


def _helix_table(analysis: NuclearAnalysis) -> pd.DataFrame:
    rows = []
    for name, g in analysis.embeddings.items():
        for label, h in (("all periods", g.helix), ("period ≥ 4", g.slow_helix)):
            rows.append({"embedding": name, "fit": label, "R²": h.r2, "period": 1.0 / h.frequency,
                         "turns": h.turns, "radius": h.radius, "pitch": h.pitch})
    return pd.DataFrame(rows)


def _summary_table(summary: dict) -> pd.DataFrame:
    return pd.DataFrame({"quantity": list(summary), "value": [f"{v:.4g}" if isinstance(v, float) else str(v)
                                                               for v in summary.values()]})


def run_report(run: Run, analysis: NuclearAnalysis, path: Path | str, figures_dir: Path | str | None = None) -> Path:
    """Write the single-run report (and, with ``figures_dir``, each figure as PNG); returns its path."""
    folder = None if figures_dir is None else Path(figures_dir)
    a, summary = analysis, analysis.summary()
    nuclei = a.nuclei
    terms = term_vectors(nuclei.Z, nuclei.N)
    emb = {f"embedding_{w}": figs.embedding_pcs(g) for w, g in a.embeddings.items()}
    hel = {f"helix_{w}": figs.helix(g) for w, g in a.embeddings.items()}
    per_nucleon = run.model.binding_per_nucleon
    readout = "B/A" if per_nucleon else "B"
    combination = "B = A·(c0 + Σ c_k f_k(Z, N))" if per_nucleon else "B = c0 + Σ c_k f_k(Z, N)"
    topo = {"topography": figs.topography(a.topography, a.topography_N, a.embeddings["Z"].index_T, readout)}
    maps = {"pc_maps": figs.pc_maps(nuclei, a.penultimate.projections_BK, terms, a.match.best_frame())}
    trunc = {"truncation": figs.truncation(a.truncation, a.rms_semf_val)}
    metrics = run.metrics()
    symbolic = a.symbolic_frame()
    sections = [
        Section("Headline figures",
                f"Held-out binding-energy RMS: model {a.rms_model_val:.3f} MeV, SEMF fitted on the same training "
                f"nuclei {a.rms_semf_val:.3f} MeV, symbolic formula {a.formula.rms_test:.3f} MeV "
                f"({int((~nuclei.train).sum())} held-out of {len(nuclei)} experimental nuclei). Every analysis "
                "below is exact over all nuclei (no sampling); energies in MeV.",
                tables=[_summary_table(summary)]),
        Section("Training", "Held-out RMS per task at the last logged step.",
                tables=[metrics.tail(1).T.reset_index().rename(columns={"index": "metric", metrics.index[-1]: "value"})]),
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
                figures=_saved(hel, folder), tables=[_helix_table(a), a.helix_perturbation]),
        Section("Latent topography",
                f"Predicted {readout} with the Z embedding replaced by points of the plane of its PCs 0 and 1 (other PCs at "
                f"their mean), N = {a.topography_N}; dots are the real Z rows.",
                figures=_saved(topo, folder)),
        Section("Penultimate PCs and the mass formula",
                "Cosine similarity (centred, i.e. Pearson r) of each penultimate PC, as a map over the nuclei, with "
                "each physics term; the figure shows the leading PCs beside their best-matched term.",
                figures=_saved(maps, folder),
                tables=[a.match.to_frame().reset_index(), a.match.best_frame().reset_index(), a.best_pc_per_term()]),
        Section("PC truncation",
                "Binding-energy RMS over all nuclei when a layer's activations are projected onto their first k PCs "
                "(residual streams flattened over the three tokens).",
                figures=_saved(trunc, folder),
                tables=[c.to_frame().reset_index().assign(hook=h) for h, c in a.truncation.items()]),
        Section("Symbolic regression",
                "Formulas for the leading penultimate PCs as functions of (Z, N), found by Operon on the training "
                f"nuclei, then combined by least squares into {combination} (the readout predicts "
                f"{readout}). Formula RMS: train {a.formula.rms_train:.3f} MeV, held-out {a.formula.rms_test:.3f} MeV; "
                f"SEMF: train {a.rms_semf_train:.3f}, held-out {a.rms_semf_val:.3f} MeV.",
                tables=[symbolic, a.formula.to_frame()]),
    ]
    meta = [f"run {run.path}: {run.config}", f"status: {run.status['state']} after {run.status['step']} steps",
            f"versions: {run.versions}"]
    return Report(f"Representation geometry of {run.path}", sections, meta).write(path)


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


def write_study_outputs(out: Path | str, study, tables: dict[str, pd.DataFrame], meta: list[str]) -> Path:
    """Write ``models.csv``, ``fraction_summary.csv``, ``tasks.csv``, ``study_tables.md``, ``study_report.html``
    and its figures as ``figures/*.png``."""
    out = Path(out)
    fractions, tasks = tables["fractions"], tables["tasks"]
    summary = fraction_summary(fractions) if len(fractions) else pd.DataFrame()
    for name, frame in (("models", tables["models"]), ("fraction_summary", summary), ("tasks", tasks)):
        atomic_write_text(out / f"{name}.csv", frame.to_csv(index=False))
    atomic_write_text(out / "study_tables.md", f"## Training fraction (mean, sd over seeds)\n\n{_markdown(summary)}\n\n"
                                               f"## Single- vs multi-task held-out RMS (MeV)\n\n{_markdown(tasks)}\n")
    sections = [Section("Training fraction",
                        f"{len(study.seeds)} seeds per fraction (each seed draws the split and the initialisation); "
                        f"every model trains {study.steps} AdamW steps (study preset). Correlation of orderedness "
                        "and R_P with the held-out B RMS over all models: "
                        + ", ".join(f"{c}: ρ_s = {_spearman(fractions, c):+.2f}" for c in
                                    ("orderedness_Z", "orderedness_N", "R_P_Z", "R_P_N") if c in fractions),
                        figures=_saved({"study_structure": figs.study_structure(fractions)}, out / "figures")
                        if len(fractions) else [], tables=[summary]),
                Section("Single- vs multi-task",
                        f"Held-out RMS per observable at training fraction {study.single_fraction}, seed "
                        f"{study.single_seed}: one model per task against the multi-task model.",
                        figures=_saved({"single_vs_multi": figs.single_vs_multi(tasks)}, out / "figures")
                        if tasks.single_val_rms_MeV.notna().any() else [],
                        tables=[tasks])]
    return Report("Nuclear study: embedding structure vs training fraction", sections, meta).write(
        out / "study_report.html")


def _spearman(frame: pd.DataFrame, column: str) -> float:
    valid = frame[[column, "val_rms_B"]].dropna()
    if len(valid) < 3:
        return float("nan")
    return float(np.corrcoef(valid[column].rank(), valid.val_rms_B.rank())[0, 1])
