"""Figures and the HTML report of a lottery-ticket study, drawn from its summary.

The summary is a ``LotterySummary``, defined here as the result this module draws and computed by
``physlens.studies.lottery_summary.summarize``; this module computes nothing and imports no study.

Usage::

    write_report(summarize("runs/lottery-tfim"), "runs/lottery-tfim/report.html")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from physlens.lens.piecewise import RESOLVED_SEMS, PiecewiseFit, Transition  # noqa: E402
from physlens.quantum.filters import FilterExtent, StabiliserOverlap  # noqa: E402
from physlens.quantum.systems import SpinSystem, ToricCode  # noqa: E402
from physlens.report.html import Figure, Report, Section  # noqa: E402
from physlens.report.lottery_terms import terms_section  # noqa: E402
from physlens.report.lottery_observables import observables_section  # noqa: E402
from physlens.report.lottery_regrowth import regrowth_section  # noqa: E402
from physlens.report.lottery_universality import families, universality_section  # noqa: E402
from physlens.report.tables import Table, format_value  # noqa: E402
from physlens.runs import atomic_write_text  # noqa: E402


CSV_FLOAT = "%.12g"
"""Numbers in the summary tables: twelve significant digits, so that recomputing a study's exact sums (whose last
bits depend on the order of summation) leaves its tables unchanged; ``levels.csv`` keeps every digit."""
OBSERVABLE_DECIMALS = 12
"""Decimals of the magnetisations and fidelities in ``observables.csv``: they lie in [−1, 1] and an exact sum fixes
them to ≈ 1e-15 absolute, so a near-zero ⟨m_z⟩ (≈ 1e-6, a difference of large sums) would change in its twelfth
significant digit with the order of summation; rounded to 1e-12 it does not."""


@dataclass(frozen=True)
class LotterySummary:
    """Everything the report shows about one study.

    Attributes:
        study: the study's config and reference (``study.json``).
        levels: one row per trained network of the finished levels.
        curve: per (level, arm): density, median/min/max relative error over seeds.
        dense_error: median relative error of the dense networks (level 0).
        fit: piecewise power law of the IMP curve (median over seeds), or None (too few levels).
        transition: error jump and seed branches of the IMP curve, or None.
        claims: one row per question of the study, with the measured answer.
        filter_level: the IMP level whose filters are shown: the sparsest whose median error is below
            the geometric mean of the best and worst IMP medians (halfway, in log error, to the plateau).
        kernel_NM, keep_NM: first-layer kernel and mask of that level's ticket of the first seed.
        extent: its filters' extent; overlap: its stabiliser overlap (toric code only, else None).
        system: the system the study was trained on.
        observables: magnetisations and fidelities of every network
            (``physlens.studies.lottery_observables.measure``), or None.
        regrowth: the climbs back up by regrowing weights (``physlens.studies.lottery_regrowth``), one row per
            level with its ``climb`` folder name, or None when there are none.
        terms: the interaction terms (bonds; the toric code's plaquettes) each IMP ticket spans
            (``physlens.studies.lottery_terms.term_table``), one row per (level, seed), or None.
        rescue: the rescue interventions (``physlens.studies.lottery_rescue``), four rows per seed, or None.
        terms_random: ``terms`` for the networks of iterative random pruning, or None when that arm was not run.
    """

    study: dict
    levels: pd.DataFrame
    curve: pd.DataFrame
    dense_error: float
    fit: PiecewiseFit | None
    transition: Transition | None
    claims: pd.DataFrame
    filter_level: int
    kernel_NM: np.ndarray
    keep_NM: np.ndarray
    extent: FilterExtent
    overlap: StabiliserOverlap | None
    system: SpinSystem
    observables: pd.DataFrame | None = None
    regrowth: pd.DataFrame | None = None
    terms: pd.DataFrame | None = None
    rescue: pd.DataFrame | None = None
    terms_random: pd.DataFrame | None = None

    def to_frame(self) -> pd.DataFrame:
        """The pruning curve ``curve``: one row per (level, arm), density and median/min/max relative error."""
        return self.curve

    def write_tables(self, folder: Path | str) -> None:
        """Write the summary tables as CSV into ``folder`` (each file atomically): ``curve``, ``claims``,
        ``fit`` and ``transition`` (when measured), ``filters_extent``, ``terms`` (and ``terms_random_prune``),
        ``observables`` and, for the toric code, ``filters_stabilisers``; numbers to ``CSV_FLOAT``."""
        tables = {"curve": self.curve, "claims": self.claims, "filters_extent": self.extent.to_frame()}
        if self.fit is not None:
            tables["fit"] = self.fit.to_frame()
        if self.transition is not None:
            tables["transition"] = self.transition.to_frame()
        if self.overlap is not None:
            tables["filters_stabilisers"] = self.overlap.to_frame()
        if self.observables is not None:
            tables["observables"] = _rounded(self.observables)
        if self.terms is not None:
            tables["terms"] = self.terms
        if self.terms_random is not None:
            tables["terms_random_prune"] = self.terms_random
        for name, table in tables.items():
            atomic_write_text(Path(folder) / f"{name}.csv", table.to_csv(index=False, float_format=CSV_FLOAT))


def _rounded(observables: pd.DataFrame) -> pd.DataFrame:
    """``observables`` to ``OBSERVABLE_DECIMALS``, a value rounded to zero written 0 whatever its sign."""
    rounded = observables.round(OBSERVABLE_DECIMALS)
    floats = rounded.select_dtypes("float").columns
    rounded[floats] = rounded[floats] + 0.0
    return rounded


ARM_STYLE = {"imp": ("#c0392b", "IMP ticket: T(θ_rewind, m_IMP)"), "init_imp": ("#8e44ad", "T(θ_init, m_IMP)"),
             "reinit": ("#2980b9", "T(θ_rand, m_IMP)"),
             "random_mask": ("#7f8c8d", "T(θ_init, m_rand)"), "random_prune": ("#27ae60", "iterative random pruning")}


def monte_carlo_band(curve: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The ±1 standard-error band of a sampled curve's medians, ``(lower_L, upper_L)`` for its L rows (relative
    errors, dimensionless). A lower edge at or below zero (an error not resolved from zero) is drawn at a tenth of
    the smallest positive median, the floor of a logarithmic axis."""
    median_L, sem_L = curve["median"].to_numpy(), curve["rel_sem"].to_numpy()
    floor = 0.1 * median_L[median_L > 0].min()
    return np.maximum(median_L - sem_L, floor), median_L + sem_L


def error_curve(summary: LotterySummary) -> plt.Figure:
    """Relative energy error vs remaining fraction, median over seeds with min–max bars, per arm (an arm run at
    chosen levels only, as the isolated controls, as unconnected diamonds); for a Monte Carlo study also the ±1
    standard-error band of each median (``monte_carlo_band``)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    curve = summary.curve
    dense = curve[curve.level == 0]
    imp_levels = set(curve[(curve.arm == "imp") & (curve.level > 0)].level)
    for arm, (color, label) in ARM_STYLE.items():
        pruned = curve[(curve.arm == arm) & (curve.level > 0)]
        if pruned.empty:
            continue
        every_level = set(pruned.level) >= imp_levels
        part = (pd.concat([dense, pruned]) if every_level else pruned).sort_values("density")
        ax.errorbar(part.density, part["median"], yerr=[part["median"] - part.low, part.high - part["median"]],
                    marker="o" if every_level else "D", ms=4 if every_level else 5, capsize=2, color=color,
                    ls="-" if every_level else "none", label=label)
        if "rel_sem" in part:
            ax.fill_between(part.density, *monte_carlo_band(part), color=color, alpha=0.2, lw=0,
                            label="±1 Monte Carlo standard error" if arm == "imp" else None)
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


def _strongest_units(summary: LotterySummary, max_units: int) -> np.ndarray:
    """Units with a surviving connection, largest surviving |weight| sum first, at most ``max_units``."""
    kernel, keep = summary.kernel_NM, summary.keep_NM
    alive = np.flatnonzero(keep.sum(axis=0))
    return alive[np.argsort(-np.abs(kernel[:, alive] * keep[:, alive]).sum(axis=0))][:max_units]


def _chain_filters(summary: LotterySummary, order: np.ndarray) -> plt.Figure:
    """Surviving weights of a chain's units as a units × sites map (pruned weights blank)."""
    kept_UN = np.where(summary.keep_NM[:, order], summary.kernel_NM[:, order], np.nan).T
    n_sites = kept_UN.shape[1]
    lim = np.nanmax(np.abs(kept_UN)) if np.isfinite(kept_UN).any() else 1.0
    fig, ax = plt.subplots(figsize=(min(max(4.0, 0.35 * n_sites + 2.0), 10.0), min(0.3 * len(order) + 1.6, 9.0)))
    image = ax.imshow(kept_UN, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest")
    ax.set(xlabel="site i", ylabel="hidden unit", yticks=np.arange(len(order)), yticklabels=order,
           title="surviving first-layer weights")
    ax.tick_params(axis="y", labelsize=7)
    fig.colorbar(image, ax=ax, label="weight (blank: pruned)")
    fig.tight_layout()
    return fig


def filter_maps(summary: LotterySummary, max_units: int = 24) -> plt.Figure:
    """Each hidden unit's surviving connections on the lattice (red > 0, blue < 0, area ∝ |w|);
    for a chain, one units × sites map.

    For the toric code the matched plaquette (square) or star (cross) is outlined.
    """
    kernel, keep, system = summary.kernel_NM, summary.keep_NM, summary.system
    order = _strongest_units(summary, max_units)
    if system.coords.shape[1] == 1 or np.ptp(system.coords[:, 1]) == 0:
        return _chain_filters(summary, order)
    cols = min(6, max(1, order.size))
    rows = max(1, int(np.ceil(order.size / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 1.9 * rows), squeeze=False)
    coords = system.coords
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


def _describe(study: dict) -> str:
    """The study in one line: system, network, training, pruning (numbers to a few significant figures)."""
    v = {k: format_value(x) for k, x in study.items()}
    return (f"{v['system']} size {v['size']}, FFNN widths {v['widths']} (ReLU, summed output), seeds {v['seeds']}; "
            f"{study.get('training_method', 'Adam on exact full-sum gradients')}, lr {v['learning_rate']}, "
            f"{v['steps']} steps per level "
            f"({format_value(study.get('dense_steps') or study['steps'])} for the dense level); prune {v['fraction']} "
            f"per round ({v['scope']}, rounded {study.get('rounding', 'floor')}), {v['rounds']} rounds, rewind to step "
            f"{v['rewind_step']}; controls from {study.get('controls_from', 'rewind')}, "
            f"{format_value(study.get('control_steps') or study['steps'])} steps; "
            f"{'E_ref' if study.get('reference') else 'E0'} = {format_value(study['e0'], 10)} {v['unit']}"
            f"{' by ' + study['reference'] if study.get('reference') else ''}.")


def _filter_caption(summary: LotterySummary) -> str:
    """Caption of ``filter_maps`` for this study's lattice."""
    system = summary.system
    maps = ("Surviving first-layer weights of the strongest hidden units on the lattice: dot area ∝ |w|, red > 0, "
            "blue < 0, grey: pruned sites" if system.coords.shape[1] > 1 and np.ptp(system.coords[:, 1]) > 0 else
            "Surviving first-layer weights of the strongest hidden units (rows) over the sites (columns); blank: pruned")
    if summary.overlap is not None:
        maps += "; circles: the best-matched plaquette (p) or star (s), J its Jaccard overlap"
    return f"{maps}. IMP ticket of the first seed at level {summary.filter_level}."


def _filter_figures(summary: LotterySummary) -> list[Figure]:
    """The filter maps and the extent histogram, captioned."""
    return [Figure(filter_maps(summary), _filter_caption(summary)),
            Figure(extent_histogram(summary), "Spatial extent of each surviving filter (lattice spacings) against the "
                   "longest bond of the Hamiltonian (red).")]


def report(summary: LotterySummary, notes: str = "", nav: list[tuple[str, str]] = ()) -> Report:
    """The study's report (error curves, fit, transition, filters, claims); ``nav`` links to the pages around it."""
    study = summary.study
    meta = [f"energies: {study['energy_method']}"]
    config = {k: v for k, v in study.items() if k not in ("energy_method", "versions", "out")}
    sections = [
        Section("Claims, as measured", notes, tables=[Table(summary.claims, "The study's questions and the measured answers")]),
        Section("Error vs remaining fraction",
                "Median over seeds, bars from the best to the worst seed. Level 0 is the dense network.",
                figures=[Figure(error_curve(summary), "Relative energy error |E − E0|/|E0| against the remaining "
                                "fraction of weights (log–log, pruning proceeds to the right), median over seeds with "
                                "best–worst bars, per arm (diamonds: controls run at chosen levels only); dotted: "
                                "piecewise power-law fit of the IMP median"
                                + ("; shaded: ±1 Monte Carlo standard error of each median (a lower edge at the "
                                   "bottom of the band marks an error not resolved from zero)."
                                   if "rel_sem" in summary.curve else ".")),
                         Figure(seed_branches(summary), "Relative energy error of each seed's IMP ticket against the "
                                "remaining fraction; shaded: the largest jump of the median.")],
                tables=[Table(summary.curve, "Median, best and worst relative error per level and arm")]),
    ]
    if summary.fit is not None:
        sections.append(Section("Scaling regions (piecewise power law of the IMP median, BIC-chosen breakpoints)",
                                tables=[Table(summary.fit.to_frame(), "Power-law exponent per region")]))
    if summary.transition is not None:
        sampled = (f" Only levels whose median error exceeds {RESOLVED_SEMS:g} Monte Carlo standard errors count: a "
                   "ratio of errors within noise of zero says nothing." if "rel_sem" in summary.curve else "")
        sections.append(Section("Transition", "The largest jump of the IMP median between neighbouring levels; a split "
                                "is a gap of more than one decade between seeds at one level." + sampled,
                                tables=[Table(summary.transition.to_frame(), "Largest jump of the IMP median")]))
    if summary.observables is not None:
        sections.append(observables_section(summary.observables))
    if summary.regrowth is not None and summary.observables is not None:
        sections.append(regrowth_section(summary.regrowth, summary.observables))
    if summary.terms is not None and len(summary.terms):
        sections.append(terms_section(summary.terms, summary.rescue, summary.terms_random))
    tables = [Table(summary.extent.to_frame().query("n_kept > 0"), "Extent of each surviving filter")]
    text = (f"IMP ticket of the first seed at level {summary.filter_level} (the sparsest level whose median error is "
            f"below the geometric mean of the best and worst IMP medians): {int(summary.keep_NM.sum())} of "
            f"{summary.keep_NM.size} first-layer weights kept; interaction range "
            f"{summary.extent.interaction_range:.3g} lattice spacings.")
    if isinstance(summary.system, ToricCode) and summary.overlap is not None:
        tables.insert(0, Table(summary.overlap.to_frame()[summary.extent.n_kept_M > 0],
                               "Overlap of each surviving filter with the plaquettes and stars"))
        text += " Filters matched to plaquettes (p) or stars (s) by Jaccard overlap J; circled edges are the match."
    sections.append(Section("Surviving filters", text, figures=_filter_figures(summary), tables=tables))
    return Report(f"Lottery tickets: {study['system']} {study['size']}", sections, meta, subtitle=_describe(study),
                  config=config, nav=list(nav))


def write_report(summary: LotterySummary, path: Path | str, notes: str = "", nav: list[tuple[str, str]] = ()) -> Path:
    """Write the study's HTML report (see ``report``); returns its path."""
    return report(summary, notes, nav).write(path)


def write_study_pages(summary: LotterySummary, folder: Path | str, nav: list[tuple[str, str]] = ()) -> Path:
    """Write the study's summary tables (``LotterySummary.write_tables``) and ``folder/report.html``; returns the
    report's path."""
    summary.write_tables(Path(folder))
    return write_report(summary, Path(folder) / "report.html", nav=nav)


def write_overview(summaries: dict[str, LotterySummary], path: Path | str, notes: str = "") -> Path:
    """One page over several studies (name → summary, each in the sub-folder ``name`` beside ``path``):
    each study's error curve, claims and filter maps, linked to its full report."""
    sections = [Section("About", notes)] if notes else []
    sections.append(Section("Studies", "Each study's full report:",
                            links=[(f"{name}/report.html", f"{name}: {s.study['system']} {s.study['size']}")
                                   for name, s in summaries.items()]))
    for name, summary in summaries.items():
        sections.append(Section(name, _describe(summary.study),
                                figures=[Figure(error_curve(summary), f"{name}: relative energy error against the "
                                                "remaining fraction of weights, median over seeds per arm"
                                                + ("; shaded: ±1 Monte Carlo standard error." if "rel_sem" in
                                                   summary.curve else ".")),
                                         Figure(filter_maps(summary, max_units=12), _filter_caption(summary))],
                                tables=[Table(summary.claims, f"{name}: the study's questions and the measured answers")],
                                links=[(f"{name}/report.html", f"full report of {name}")]))
    at = len(sections) - len(summaries)
    sections[at:at] = [universality_section(family) for family in families(summaries)]
    sampled = [name for name, s in summaries.items() if s.study.get("reference")]
    meta = ["energies exact (full sums over the basis)" + (f"; Monte Carlo against the reference energy its page "
                                                          f"names (DMRG or published) for {', '.join(sampled)}"
                                                          if sampled else ", never sampled")]
    return Report("Lottery tickets in neural quantum states", sections, meta).write(path)
