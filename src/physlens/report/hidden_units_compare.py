"""The page that sets two training protocols of the hidden-unit study side by side (and the paper's numbers).

Draws the tables of ``physlens.studies.hidden_units_compare.compare`` and, when given, the
importance-along-training table of ``physlens.studies.hidden_units_training`` and the analysis where a
stopping rule read off the sampled estimate would have stopped (``hidden_units_compare.sampled_stops``).

    comparison_report(tables, along, protocol_table, meta, stops).write("docs/studies/hidden-units-compare/report.html")
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

from physlens.report.html import Figure, Report, Section  # noqa: E402
from physlens.report.tables import Table  # noqa: E402

MARKERS = ("o", "s", "^", "D")


def _fraction_rho(by_alpha: pd.DataFrame) -> plt.Figure:
    sizes = sorted(by_alpha["N"].unique())[:4]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for (protocol, group), colour in zip(by_alpha.groupby("protocol"), ("C0", "C3", "C2", "C4")):
        for n, marker in zip(sizes, MARKERS):
            at = group[group["N"] == n]
            for ax, y in zip(axes, ("frac", "rho")):
                ax.errorbar(at["alpha"], at[f"{y}_mean"], at[f"{y}_std"], marker=marker, color=colour, capsize=3,
                            ls="-" if n == 12 else ":", label=f"{protocol}, N = {n}")
    for ax, y, name in zip(axes, ("paper_frac", "paper_rho"), ("m′ / M", "ρ")):
        paper = by_alpha[by_alpha["N"] == 12].drop_duplicates("alpha")
        ax.plot(paper["alpha"], paper[y], "k*", ms=11, label="paper, N = 12")
        ax.set(xlabel="α", ylabel=name)
    axes[0].set_title("Fraction of important units (τ = 0.3)")
    axes[1].set_title("Energy–correlation impact correlation ρ")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def _networks(models: pd.DataFrame) -> plt.Figure:
    fig, (ax_n, ax_i) = plt.subplots(1, 2, figsize=(11, 3.8))
    for (protocol, group), colour in zip(models.groupby("protocol"), ("C0", "C3", "C2", "C4")):
        ok = group[group["converged"]]
        if ok["norm_median"].notna().any():
            ax_n.hist(ok["norm_median"].dropna(), bins=20, alpha=0.6, color=colour, label=protocol)
        ax_i.scatter(group["eps"], group["max_energy_impact"], s=12, alpha=0.6, color=colour, label=protocol)
    ax_n.set(xlabel="median ‖W_j‖₂ of a model's hidden units", ylabel="models", title="Weight norms (converged models)")
    ax_i.set(xscale="log", yscale="log", xlabel="ε = |E − E0| / |E0|", ylabel="largest |ΔE_j| / |E|",
             title="Largest single-unit impact per model")
    ax_i.axhline(0.3, color="k", ls=":", lw=0.8)
    for ax in (ax_n, ax_i):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


EPS_BINS = np.logspace(-3.5, 0.5, 17)
"""Bins of ε (four per decade) over which the median along-training curves are taken."""


def _along(along: pd.DataFrame) -> plt.Figure:
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.2))
    (ax_f, ax_r), (ax_i, ax_w) = axes
    sizes = sorted(along["N"].unique())
    for n, colour in zip(sizes, (f"C{i}" for i in range(10))):
        at = along[along["N"] == n]
        kept = at[~at["collapsed"]]
        for ax, y in ((ax_f, "frac_important"), (ax_r, "rho"), (ax_i, "max_energy_impact")):
            ax.scatter(kept["eps"], kept[y], s=5, alpha=0.25, color=colour, lw=0)
            median = kept.groupby(pd.cut(kept["eps"], EPS_BINS), observed=True).agg(eps=("eps", "median"),
                                                                                    y=(y, "median"), count=(y, "size"))
            median = median[median["count"] >= 3]
            ax.plot(median["eps"], median["y"], "-o", ms=3, color=colour, label=f"N = {n}")
        for _, model in at.groupby(["alpha", "seed"]):
            ax_w.plot(model["step"], model["weight_sz0"], color=colour, lw=0.6, alpha=0.5)
        ax_w.plot([], [], color=colour, label=f"N = {n}")
    for ax, name, title in ((ax_f, "m′ / M", "Fraction of important units (τ = 0.3)"),
                            (ax_r, "ρ", "Energy–correlation impact correlation ρ"),
                            (ax_i, "largest |ΔE_j| / |E|", "Largest single-unit impact")):
        ax.set(xscale="log", xlabel="ε at the snapshot", ylabel=name, title=title)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.invert_xaxis()
    ax_i.set_yscale("log")
    ax_i.axhline(0.3, color="k", ls=":", lw=0.8)
    ax_w.set(xlabel="training step", ylabel="Born weight with total S^z = 0", ylim=(-0.02, 1.02),
             title="Weight in the ground state's sector")
    ax_f.legend(fontsize=8)
    ax_w.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _stop_tables(stops: pd.DataFrame | None) -> list[Table]:
    if stops is None or stops.empty:
        return []
    one = stops[stops["window"] == 1]
    return [Table(one[["protocol", "N", "alpha", "models", "collapsed", "step_offset_median", "eps_median",
                       "frac_mean", "frac_std", "paper_frac", "rho_mean"]],
                  "Where a rule stopping at the first iteration whose sampled ε is below 1e-3 would have stopped: "
                  "the analysis at the snapshot nearest that step (median offset in steps), per N and α — models, "
                  "how many of those snapshots were collapsed (exact energy above 0 J, left out of the rest), their "
                  "median exact ε, m′/M (mean, sd) and mean ρ, with the paper's m′/M at N = 12. Averages of the "
                  "sampled ε over 50 and 200 iterations are in sampled_stop.csv.")]


def _passage_tables(passages: pd.DataFrame | None) -> list[Table]:
    if passages is None or passages.empty:
        return []
    return [Table(passages[["protocol", "N", "alpha", "seed", "first_collapse_step", "before_step", "before_eps",
                            "before_frac", "steps", "eps", "frac_important", "before_rho", "rho"]],
                  "The converged models that passed through the collapse: the last snapshot before the first "
                  "collapsed check (its step, exact ε and m′/M) beside the converged state (steps, ε, m′/M), and ρ "
                  "at both; whether a model came out of the collapse with fewer important units than it went in with")]


def comparison_report(tables: dict[str, pd.DataFrame], along: pd.DataFrame, protocols: pd.DataFrame,
                      meta: list[str], stops: pd.DataFrame | None = None) -> Report:
    """The comparison page (see the module docstring); ``along`` and ``stops`` may be empty."""
    by_alpha = tables["by_alpha"]
    common = set.intersection(*(set(g["N"]) for _, g in by_alpha.groupby("protocol"))) if len(by_alpha) else set()
    shown = by_alpha[by_alpha["N"].isin(common)] if common else by_alpha
    sections = [
        Section("Protocols", "Each study trains every model under one named protocol; models that miss ε < 1e-3 "
                "within the step budget are recorded and excluded from every mean.",
                tables=[Table(protocols, "The protocols compared")]),
        Section("Important units and ρ per α", "Importance at τ = 0.3 by the energy test or the correlation test, "
                "exact sums over each model's basis. Stars: the paper's values at N = 12 where it states them.",
                [Figure(_fraction_rho(shown), "Left: m′/M against α (mean ± sd over converged seeds), solid at "
                        "N = 12, dotted at the other sizes both studies have. Right: ρ, the Pearson correlation of "
                        "the energy and correlation impacts across a model's units.")],
                [Table(shown[["protocol", "N", "alpha", "models", "converged", "frac_mean", "frac_std", "paper_frac",
                              "rho_mean", "rho_std", "paper_rho"]],
                       "Important units and ρ per protocol, ring size N and α (sizes both studies have; mean and sd "
                       "over converged seeds)"),
                 Table(shown[["protocol", "N", "alpha", "converged", "steps_median", "eps_median", "max_impact_median",
                              "norm_median", "recovered_important", "recovered_rest"]],
                       "The trained networks: steps to ε < 1e-3, ε, the largest single-unit |ΔE|/|E|, the median "
                       "hidden-unit weight norm, and the energy of the important units alone and of the rest alone as "
                       "a fraction of the full model's (medians and means over converged seeds)")]),
        Section("Scaling with N", "m′ = a·N^k fitted to the seed-averaged m′ at each N, as the paper fits; a fit on "
                "fewer than three sizes is degenerate.",
                tables=[Table(tables["fits"], "Power-law fits per protocol and α, with the paper's k"),
                        Table(tables["window"], "Range of τ where k < 1")]),
        Section("What differs in the trained networks", "How large the hidden-unit weights grow, and how much a "
                "single unit carries, under each protocol.",
                [Figure(_networks(tables["models"]), "Left: median weight norm ‖W_j‖₂ per converged model. Right: "
                        "the largest single-unit energy impact of each model against its ε; dotted: τ = 0.3.")]),
    ]
    if len(along):
        sections.append(Section(
            "Importance along training", "The analysis repeated at parameter snapshots kept during paper-protocol "
            "training (exact sums at each snapshot): does importance appear only near convergence?",
            [Figure(_along(along), "Each point one snapshot of one model (α = "
                    f"{', '.join(str(a) for a in sorted(along['alpha'].unique()))} and all seeds together; ε falls to "
                    "the right), coloured by ring size N; lines: the median over the snapshots in each quarter decade of "
                    "ε (three or more). Snapshots whose exact energy is above 0 J (collapsed onto the polarised "
                    "configurations) are left out of these three panels. Lower right: the Born weight of the "
                    "total-S^z = 0 configurations against the step, one line per model; a model whose weight leaves "
                    "the sector has moved onto states the single-flip Markov chains do not visit.")],
            [*_stop_tables(stops), *_passage_tables(tables.get("collapse_passage"))]))
    return Report("Hidden units under two training protocols", sections, meta)
