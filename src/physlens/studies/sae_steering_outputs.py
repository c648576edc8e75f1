"""The folder of one SAE-steering study: the SAE, its tables, feature pages, ``report.html`` and ``RESULTS.md``.

``studies.sae_steering`` measures; this module writes what it measured, every file atomically::

    study = analyse_run(load("runs/sae-study/heisenberg-4x4"))
    write_outputs(study, Path("docs/studies/sae-steering/heisenberg-4x4"), "SAE steering of heisenberg-4x4", meta=[])
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from physlens.lens.direction_steering import QUIET
from physlens.lens.sae import save_sae
from physlens.lens.steering import IDENTITY_STRENGTH, admissible_range
from physlens.report.dashboards import FeatureView, write_dashboards
from physlens.report.sae_steering import run_report
from physlens.runs import atomic_write_text
from physlens.studies.sae_probe_control import ProbeControl
from physlens.studies.sae_steering import SAEStudy

N_DASHBOARDS = 8
"""Feature pages written per run."""


def dashboard_features(study: SAEStudy, n_features: int = N_DASHBOARDS) -> list[int]:
    """The steered feature, each observable's best feature, then the features with the largest |r|."""
    ranked = np.argsort(-study.match.best_abs_r_F, kind="stable")
    picks = [study.feature, *study.match.best_feature_O.tolist(), *ranked.tolist()]
    return list(dict.fromkeys(int(f) for f in picks))[:max(n_features, 1)]


def _md(name: str) -> str:
    """An observable's name safe inside a Markdown table cell."""
    return f"`{name}`".replace("|", "\\|")


def _model_line(row: dict) -> str:
    how = "full sum" if row["method"] == "exact" else "Monte Carlo"
    if row["model_eps"] is None:
        return f"| model energy ({how}) [{row['unit']}] | {row['e_clean']:.6f} (no reference: ε unavailable) |"
    return (f"| model ε = \\|E − E0\\|/\\|E0\\| ({how}; E0 = {row['e0']:.6f} {row['unit']}, {row['e0_method']}) | "
            f"{row['model_eps']:.3e} |")


def results_markdown(study: SAEStudy, title: str) -> str:
    """RESULTS.md of one run: the headline numbers, measured, with how they were measured."""
    row = study.summary_row()
    signed = {"abs_m_z": "m_z", "abs_m_s": "m_s"}.get(study.target)
    lines = [f"# {title}", "", f"Method: {row['method']} ({row['n_configurations']} configurations; "
             f"{'full sums over the basis' if study.exact else 'Monte Carlo samples of |ψ|², reweighted for steering'}).",
             f"SAE: {row['arch']}, {row['d_sae']} latents on `{row['hook']}`, trained on {row['n_inputs']} tokens.", "",
             "| quantity | value |", "|---|---|", _model_line(row),
             f"| explained variance | {row['explained_variance']:.4f} |", f"| L0 | {row['l0']:.2f} |",
             f"| dead / dense fraction | {row['dead_fraction']:.3f} / {row['dense_fraction']:.3f} |",
             f"| shrinkage | {row['shrinkage']:.3f} |",
             f"| E_clean, E_sae, E_zero [{row['unit']}] | {row['e_clean']:.6f}, {row['e_sae']:.6f}, {row['e_zero']:.6f} |",
             f"| energy recovered | {row['energy_recovered']:.4f} (ESS/S of E_zero: {row['ess_zero']:.3g}) |",
             f"| fidelity with SAE spliced in | {row['fidelity']:.5f} |",
             f"| target observable, best feature, r | {_md(study.target)}, {study.feature}, {row['feature_r']:+.4f} |"]
    for name in study.match.observables:
        lines.append(f"| best \\|r\\| for {_md(name)} | {row[f'best_abs_r[{name}]']:.4f} |")
    lines += [f"| steering points admissible | {row['admissible_points']} of {row['n_points']} "
              f"(strengths {study.curve.strengths_K.min():g}..{study.curve.strengths_K.max():g}, {study.curve.mode}) |",
              f"| Spearman ρ({_md(study.target)}, strength) | {row[f'spearman[{study.target}]']:+.4f} |"]
    if signed:
        lines.append(f"| Spearman ρ({_md(signed)}, strength) | {row[f'spearman[{signed}]']:+.4f} |")
    lines.append(f"| max relative energy deviation on the admissible range | {row['max_rel_energy_dev']:.3e} |")
    curve = study.curve
    quiet_K = admissible_range(curve.strengths_K, curve.admissible_K & (np.abs(curve.relative_deviation_K) <= QUIET),
                               IDENTITY_STRENGTH.get(curve.mode))
    if quiet_K.any():
        quiet = dataclasses.replace(curve, admissible_K=quiet_K)
        lines.append(f"| strengths with \\|ΔE\\|/\\|E\\| ≤ {QUIET:g} around the identity | "
                     f"{curve.strengths_K[quiet_K].min():g}..{curve.strengths_K[quiet_K].max():g} "
                     f"({int(quiet_K.sum())} points); Spearman ρ there {quiet.spearman(study.target):+.4f} |")
        if not curve.exact:
            lines.append(f"| largest standard error of \\|ΔE\\|/\\|E\\| there (paired over the shared samples) | "
                         f"{curve.relative_deviation_errors_K[quiet_K].max():.1e} |")
    return "\n".join(lines + [""])


def write_outputs(study: SAEStudy, out: Path, title: str, meta: list[str], n_features: int = N_DASHBOARDS,
                  control: ProbeControl | None = None) -> Path:
    """Write the SAE, tables, ``n_features`` feature pages, ``report.html`` and ``RESULTS.md`` into ``out``
    (the study configuration shown as a table), and the probe control (``sae_probe_control``) when given;
    returns the report path."""
    out = Path(out)
    save_sae(study.sae, out / "sae")
    data, match = study.data, study.match
    weights_S = data.weights_S if data.exact else None
    views = [FeatureView(f, study.latents_SF[:, f], weights_S, data.sigma_SN, study.coords_ND, match.r_FO[f],
                         match.observables, match.label(f), study.curve if f == study.feature else None)
             for f in dashboard_features(study, n_features)]
    links = write_dashboards(views, out / "features", title, meta)
    atomic_write_text(out / "summary.json", json.dumps(study.summary_row(), indent=2, default=float))
    atomic_write_text(out / "steering.csv", study.curve.to_frame().to_csv(index=False))
    atomic_write_text(out / "matching.csv", match.to_frame().to_csv(index=False))
    atomic_write_text(out / "RESULTS.md", results_markdown(study, title))
    if control is not None:
        atomic_write_text(out / "probe_control.csv", control.frame.to_csv(index=False))
        atomic_write_text(out / "probe_quiet.csv", control.quiet.to_csv(index=False))
    return run_report(title, meta, study, links, config=asdict(study.config), control=control).write(out / "report.html")
