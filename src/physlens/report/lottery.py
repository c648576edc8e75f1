"""Figures and the HTML report of a lottery-ticket study, drawn from a ``LotterySummary``.

Usage::

    write_report(summarize("runs/lottery-tfim"), "runs/lottery-tfim/report.html")
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from physlens.quantum.systems import ToricCode  # noqa: E402
from physlens.report.html import Report, Section  # noqa: E402
from physlens.studies.lottery_summary import LotterySummary  # noqa: E402

ARM_STYLE = {"imp": ("#c0392b", "T(θ_init, m_IMP): ticket"), "reinit": ("#2980b9", "T(θ_rand, m_IMP)"),
             "random_mask": ("#7f8c8d", "T(θ_init, m_rand)"), "random_prune": ("#27ae60", "iterative random pruning")}


def error_curve(summary: LotterySummary) -> plt.Figure:
    """Relative energy error vs remaining fraction, median over seeds with min–max bars, per arm."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    curve = summary.curve
    dense = curve[curve.level == 0]
    for arm, (color, label) in ARM_STYLE.items():
        pruned = curve[(curve.arm == arm) & (curve.level > 0)]
        if pruned.empty:
            continue
        part = pd.concat([dense, pruned]).sort_values("density")
        ax.errorbar(part.density, part["median"], yerr=[part["median"] - part.low, part.high - part["median"]],
                    marker="o", ms=4, capsize=2, color=color, label=label)
    if summary.fit is not None:
        x = np.geomspace(curve.density.min(), 1.0, 200)
        ax.plot(x, summary.fit(x), ls=":", color="k", lw=1, label="piecewise power law (IMP)")
        for b in summary.fit.breakpoints:
            ax.axvline(b, color="k", lw=0.6, ls="--")
    ax.axhline(2 * summary.dense_error, color="#999", lw=0.8, ls="-.", label="2 × dense error")
    ax.set(xscale="log", yscale="log", xlabel="remaining fraction of weights", ylabel="relative energy error |E−E0|/|E0|")
    ax.invert_xaxis()
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def seed_branches(summary: LotterySummary) -> plt.Figure:
    """Each seed's IMP error vs remaining fraction (branches at the transition)."""
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    imp = summary.levels[summary.levels.arm == "imp"]
    for seed, part in imp.groupby("seed"):
        part = part.sort_values("density")
        ax.plot(part.density, part.rel_error, marker="o", ms=3, label=f"seed {seed}")
    tr = summary.transition
    if tr is not None:
        ax.axvspan(tr.density_after, tr.density_before, color="#f5b7b1", alpha=0.5, label="largest jump")
    ax.set(xscale="log", yscale="log", xlabel="remaining fraction of weights", ylabel="relative energy error")
    ax.invert_xaxis()
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def filter_maps(summary: LotterySummary, max_units: int = 24) -> plt.Figure:
    """Each hidden unit's surviving connections on the lattice (red > 0, blue < 0, area ∝ |w|).

    For the toric code the matched plaquette (square) or star (cross) is outlined.
    """
    kernel, keep, system = summary.kernel_NM, summary.keep_NM, summary.system
    alive = np.flatnonzero(keep.sum(axis=0))
    order = alive[np.argsort(-np.abs(kernel[:, alive] * keep[:, alive]).sum(axis=0))][:max_units]
    cols = min(6, max(1, order.size))
    rows = max(1, int(np.ceil(order.size / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 1.9 * rows), squeeze=False)
    coords = system.coords if system.coords.shape[1] == 2 else np.pad(system.coords, ((0, 0), (0, 1)))
    scale = np.abs(kernel * keep).max() or 1.0
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, unit in zip(axes.ravel(), order):
        ax.scatter(coords[:, 0], coords[:, 1], s=6, color="#ccc")
        w, k = kernel[:, unit], keep[:, unit]
        ax.scatter(coords[k, 0], coords[k, 1], s=220 * np.abs(w[k]) / scale + 8,
                   color=np.where(w[k] > 0, "#c0392b", "#2471a3"))
        title = f"unit {unit}"
        if summary.overlap is not None:
            kind = summary.overlap.kind_M[unit]
            group = (system.plaquettes[summary.overlap.best_plaquette_M[unit]] if kind == "plaquette"
                     else system.stars[summary.overlap.best_star_M[unit]])
            ax.scatter(coords[group, 0], coords[group, 1], s=120, facecolors="none", edgecolors="k", lw=0.8)
            title += f" {kind[0]} J={max(summary.overlap.plaquette_M[unit], summary.overlap.star_M[unit]):.2f}"
        ax.set_title(title, fontsize=7)
        ax.set_aspect("equal")
    fig.tight_layout()
    return fig


def extent_histogram(summary: LotterySummary) -> plt.Figure:
    """Spatial extent of the surviving filters against the Hamiltonian's interaction range."""
    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    ext = summary.extent
    alive = ext.n_kept_M > 0
    ax.hist(ext.extent_M[alive], bins=20, color="#7f8c8d")
    ax.axvline(ext.interaction_range, color="#c0392b", label="interaction range (longest bond)")
    ax.set(xlabel="filter extent (lattice spacings)", ylabel="hidden units")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def write_report(summary: LotterySummary, path: Path | str, notes: str = "") -> Path:
    """Write the study's HTML report (error curves, fit, transition, filters, claims)."""
    study = summary.study
    meta = [f"system {study['system']} size {study['size']} {study['system_params']}; FFNN widths {study['widths']} "
            f"(ReLU, summed output); E0 = {study['e0']:.10g} {study['unit']}",
            f"energies: {study['energy_method']} (never sampled); Adam lr {study['learning_rate']}, "
            f"{study['steps']} steps per level ({study.get('dense_steps') or study['steps']} for the dense level); prune {study['fraction']} per round ({study['scope']}), "
            f"{study['rounds']} rounds, rewind to step {study['rewind_step']}; seeds {study['seeds']}"]
    sections = [
        Section("Claims, as measured", notes, tables=[summary.claims]),
        Section("Error vs remaining fraction",
                "Median over seeds, bars from the best to the worst seed. Level 0 is the dense network.",
                figures=[error_curve(summary), seed_branches(summary)], tables=[summary.curve]),
    ]
    if summary.fit is not None:
        sections.append(Section("Scaling regions (piecewise power law of the IMP median, BIC-chosen breakpoints)",
                                tables=[summary.fit.to_frame()]))
    if summary.transition is not None:
        sections.append(Section("Transition", "The largest jump of the IMP median between neighbouring levels; a split "
                                "is a gap of more than one decade between seeds at one level.",
                                tables=[summary.transition.to_frame()]))
    filters = [filter_maps(summary), extent_histogram(summary)]
    tables = [summary.extent.to_frame().query("n_kept > 0")]
    text = (f"IMP ticket of the first seed at level {summary.filter_level} (the sparsest level whose median error is "
            f"below the geometric mean of the best and worst IMP medians): {int(summary.keep_NM.sum())} of "
            f"{summary.keep_NM.size} first-layer weights kept; interaction range "
            f"{summary.extent.interaction_range:.3g} lattice spacings.")
    if isinstance(summary.system, ToricCode) and summary.overlap is not None:
        tables = [summary.overlap.to_frame()[summary.extent.n_kept_M > 0]] + tables
        text += " Filters matched to plaquettes (p) or stars (s) by Jaccard overlap J; circled edges are the match."
    sections.append(Section("Surviving filters", text, figures=filters, tables=tables))
    return Report(f"Lottery tickets: {study['system']} {study['size']}", sections, meta).write(path)


def write_overview(summaries: dict[str, LotterySummary], path: Path | str, notes: str = "") -> Path:
    """One page over several studies (name → summary): each study's error curve, claims and filter maps."""
    sections = [Section("About", notes)] if notes else []
    for name, summary in summaries.items():
        study = summary.study
        text = (f"{study['system']} size {study['size']}, FFNN {study['widths']}, seeds {study['seeds']}, "
                f"{study['steps']} Adam steps per level, prune {study['fraction']} per round; full report in {name}/report.html.")
        sections.append(Section(name, text, figures=[error_curve(summary), filter_maps(summary, max_units=12)],
                                tables=[summary.claims]))
    meta = ["all energies exact (full sums over the basis), never sampled"]
    return Report("Lottery tickets in neural quantum states", sections, meta).write(path)
