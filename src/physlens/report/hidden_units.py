"""Reports of the hidden-unit study: one trained model, and the whole study.

``model_report`` draws a run's training curves and its unit analysis; ``study_report``
draws the study's aggregate tables. Both only draw what they are given.

    model_report(run_info, analysis, patterns).write("runs/ring8/report.html")
    study_report(tables, summaries).write("docs/studies/hidden-units/report.html")
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from physlens.report import figures  # noqa: E402
from physlens.report.html import Figure, Report, Section  # noqa: E402
from physlens.report.tables import Table, format_value, quantities  # noqa: E402

RECOVERY_SIZES = (8, 12, 16, 20)


def model_report(title: str, meta: list[str], metrics: pd.DataFrame, analysis: Any, patterns: pd.DataFrame,
                 config: dict | None = None, nav: list[tuple[str, str]] = ()) -> Report:
    """The single-model page: training (when ``metrics`` has a history), unit patterns, ablation, retention,
    impacts.

    ``config`` (the run's configuration, or what an opened model records) is shown as a table; ``nav`` links to
    the pages around this one.
    """
    scan, unit = analysis.scan, analysis.scan.unit
    split = analysis.split.to_frame().drop(columns=["unit_of_energy", "tau"])
    units = scan.to_frame().drop(columns=["energy_full", "unit_of_energy", "exact"])
    energies = {c: 6 for c in ("energy", "energy_ablated", "energy_retained")}
    training = [Section("Training", f"Energy and relative error during SR, against the exact E0 = "
                        f"{analysis.e0:.10f} {unit}; C_zz(r) at logged steps beside the exact ground state's.",
                        [Figure(figures.energy_convergence(metrics, analysis.e0, unit),
                                f"Left: variational energy [{unit}] against the SR step, with the exact E0 (dashed). "
                                "Right: relative error |E − E0|/|E0| on a log scale."),
                         Figure(figures.czz_emergence(metrics, analysis.czz_exact_R),
                                "Spin correlation C_zz(r) at logged training steps (colour: step) and in the exact "
                                "ground state (dashed).")])] if "step" in metrics and len(metrics) else []
    return Report(title, [
        *training,
        Section("Summary", f"Unit j is important when |ΔE(j)|/|E_full| > τ or Σ_r|ΔC_zz(j)(r)|/Σ_r|C_zz(r)| > τ, "
                f"τ = {analysis.tau}. Every number here is an exact sum over every basis state the model is defined on.",
                tables=[Table(quantities(analysis.model_row(), unit), "Headline numbers of the model"),
                        Table(split, "Energy and correlations of the important units alone and of the others alone",
                              unit, significant={"energy": 6})]),
        Section("Weight patterns", "Each unit's weights over the sites, sorted by |S_AFM| = |Pearson r(W_j, (−1)^i)|.",
                [Figure(figures.unit_weights(analysis.weights_MN, analysis.s_afm_M, analysis.important_M),
                        "Left: weights W_ij of each hidden unit (rows, sorted by |S_AFM|) over the sites i. "
                        "Right: S_AFM of each unit; important units in red.")],
                [Table(patterns, "Pattern scores S (Pearson r of each unit's weights with each pattern)",
                       labels={"unit": "unit j"})]),
        Section("Ablation", "Energy change and correlation change when one unit is removed.",
                [Figure(figures.delta_energy(scan, analysis.tau),
                        f"Energy change ΔE(j) [{unit}] when hidden unit j is removed; important units in red."),
                 Figure(figures.delta_correlations(scan),
                        "Change of C_zz(r) when one unit is removed, for the units with the largest (red) and the "
                        "smallest (grey) correlation impact."),
                 Figure(figures.phase_inversion(analysis.staggered_removed_M, analysis.staggered_full,
                                                analysis.important_M),
                        "Phase inversion: the Néel character A = Σ_{r≥1} (−1)^r C_zz(r) / Σ_{r≥1} |C_zz(r)| of the "
                        "model with unit j removed (1: every C_zz(r) has the antiferromagnetic sign; below 0: the "
                        "staggered pattern is inverted); important units in red.")]),
        Section("Retention and impacts", "Energy with one unit kept alone; energy impact against correlation impact.",
                [Figure(figures.retention(scan, analysis.e0),
                        f"Energy [{unit}] of the model with only unit j kept, against the full model and E0."),
                 Figure(figures.impact_scatter(scan, analysis.tau),
                        f"Energy impact against correlation impact per unit; dotted lines at τ = {analysis.tau}; "
                        "important units in red.")],
                [Table(units, "Per unit: energies on removal and retention, impacts and ΔC_zz(r)", unit,
                       labels={"unit": "unit j"}, significant=energies)]),
    ], meta, config=config, nav=list(nav))


def _recovery(models: pd.DataFrame) -> plt.Figure:
    sizes = [n for n in RECOVERY_SIZES if n in set(models["N"])]
    fig, axes = plt.subplots(2, max(len(sizes), 1), figsize=(3.4 * max(len(sizes), 1), 6), squeeze=False)
    for col, n in enumerate(sizes):
        at_n = models[models["N"] == n]
        fractions = pd.DataFrame({"important": at_n["energy_important"] / at_n["energy"],
                                  "rest": at_n["energy_rest"] / at_n["energy"], "alpha": at_n["alpha"]})
        means = fractions.groupby("alpha").mean()
        means.plot.bar(ax=axes[0, col], rot=0, legend=col == 0, color=["#c0392b", "#7f8c8d"])
        axes[0, col].set(title=f"N = {n}", ylabel="E_kept / E_full" if col == 0 else "", xlabel="α")
        first = at_n.iloc[0]
        for key, style, colour in (("czz_exact", "--", "k"), ("czz_full", "-", "C0"), ("czz_important", "-", "#c0392b"),
                                   ("czz_rest", "-", "#7f8c8d")):
            axes[1, col].plot(first[key], style, marker="o", ms=3, lw=1, label=key.removeprefix("czz_"), color=colour)
        axes[1, col].set(xlabel="r", ylabel="C_zz(r)" if col == 0 else "", title=f"α = {first['alpha']}, seed {first['seed']}")
        axes[1, col].axhline(0, color="k", lw=0.5)
    if sizes:
        axes[1, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def _fraction_and_fits(by_size: pd.DataFrame, models: pd.DataFrame, fits: pd.DataFrame) -> plt.Figure:
    fig, (ax_f, ax_m, ax_k) = plt.subplots(1, 3, figsize=(14, 3.8))
    for i, (alpha, group) in enumerate(by_size.groupby("alpha")):
        ax_f.errorbar(group["N"], group["frac_mean"], group["frac_std"], marker="o", capsize=3, label=f"α = {alpha}", color=f"C{i}")
        ok = models[(models["alpha"] == alpha)]
        positive = ok[ok["m_important"] > 0]
        ax_m.scatter(positive["N"], positive["m_important"], s=10, alpha=0.5, color=f"C{i}")
        fit = fits[fits["alpha"] == alpha]
        if len(ok) and len(fit) and np.isfinite(fit["k"].iloc[0]):
            fit = fit.iloc[0]
            grid = np.linspace(ok["N"].min(), ok["N"].max(), 50)
            quality = "degenerate" if fit["degenerate"] else f"± {fit['k_se']:.2f}"
            ax_m.plot(grid, fit["a"] * grid ** fit["k"], color=f"C{i}", label=f"α = {alpha}: k = {fit['k']:.2f} {quality}")
    ax_f.set(xlabel="N", ylabel="m′ / M", title="Fraction of important units")
    zeros = int((models["m_important"] == 0).sum()) if len(models) else 0
    ax_m.set(xlabel="N", ylabel="m′", title="m′ = a N^k" + (f" ({zeros} models with m′ = 0 not drawn)" if zeros else ""))
    if zeros < len(models):
        ax_m.set(xscale="log", yscale="log")
    degenerate = fits["degenerate"].astype(bool)
    ax_k.errorbar(fits["alpha"][~degenerate], fits["k"][~degenerate], fits["k_se"][~degenerate], marker="o", capsize=3,
                  ls="none", color="C0", label="fit")
    if degenerate.any():
        ax_k.plot(fits["alpha"][degenerate], fits["k"][degenerate], "o", mfc="none", color="C0",
                  label="degenerate (< 3 sizes or no variance)")
    ax_k.axhline(1, color="k", ls=":", lw=0.8)
    ax_k.set(xlabel="α", ylabel="k", title="Exponent per α")
    for ax, size in ((ax_f, 8), (ax_m, 7), (ax_k, 7)):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=size)
    fig.tight_layout()
    return fig


def _tau(sensitivity: pd.DataFrame) -> plt.Figure:
    fig, (ax_f, ax_k) = plt.subplots(1, 2, figsize=(10, 3.6))
    for alpha, group in sensitivity.groupby("alpha"):
        ax_f.plot(group["tau"], group["frac_mean"], "o-", ms=3, label=f"α = {alpha}")
        fitted = group[~group["degenerate_seed_mean"].astype(bool)]
        ax_k.errorbar(fitted["tau"], fitted["k_seed_mean"], fitted["k_seed_mean_se"], marker="o", ms=3, capsize=2,
                      label=f"α = {alpha}")
    ax_k.axhline(1, color="k", ls=":", lw=0.8)
    ax_f.set(xlabel="τ", ylabel="mean m′ / M", title="Classification against τ")
    ax_k.set(xlabel="τ", ylabel="k (fit to seed means)", title="Exponent against τ (fits over ≥ 3 sizes)")
    if ax_f.get_legend_handles_labels()[0]:
        ax_f.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _alpha(history: pd.DataFrame, by_alpha: pd.DataFrame, n_history: int) -> plt.Figure:
    fig, (ax_h, ax_f) = plt.subplots(1, 2, figsize=(10, 3.6))
    at_n = history[history["N"] == n_history]
    for alpha, group in at_n.groupby("alpha"):
        first = group[group["seed"] == group["seed"].min()]
        ax_h.semilogy(first["step"], first["eps"], lw=1, label=f"α = {alpha}")
    ax_h.set(xlabel="step", ylabel="|E − E0| / |E0|", title=f"Energy convergence, N = {n_history}")
    ax_f.errorbar(by_alpha["alpha"], by_alpha["frac_mean"], by_alpha["frac_std"], marker="o", capsize=3, label="m′ / M")
    ax_f.plot(by_alpha["alpha"], by_alpha["rho_mean"], "s-", label="ρ")
    ax_f.set(xlabel="α", title="α dependence, N = 12")
    for ax in (ax_h, ax_f):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


OUTCOME_COLOURS = {"converged": "#2c7fb8", "collapsed": "#c0392b", "stalled": "#e67e22"}


def _exact_checks(checks: pd.DataFrame, anatomy: pd.DataFrame, n: int, tol: float) -> plt.Figure:
    at_n = checks[checks["N"] == n]
    alphas = sorted(at_n["alpha"].unique())
    fig, axes = plt.subplots(1, len(alphas), figsize=(3.3 * len(alphas), 3.4), sharey=True, squeeze=False)
    outcome = anatomy.set_index(["N", "alpha", "seed"])["outcome"]
    for ax, alpha in zip(axes[0], alphas):
        for seed, group in at_n[at_n["alpha"] == alpha].groupby("seed"):
            ax.semilogy(group["step"], group["eps"], lw=0.8, color=OUTCOME_COLOURS.get(outcome.get((n, alpha, seed)), "grey"))
        ax.axhline(tol, color="k", ls=":", lw=0.8)
        ax.axhline(1.0, color="k", ls="--", lw=0.6)
        ax.set(xlabel="step", title=f"α = {alpha}")
    axes[0, 0].set(ylabel="exact |E − E0| / |E0|")
    handles = [plt.Line2D([], [], color=c, label=o) for o, c in OUTCOME_COLOURS.items()]
    axes[0, -1].legend(handles=handles, fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def _training_ends(tables: dict[str, pd.DataFrame], summaries: dict[str, pd.DataFrame], tol: float) -> list[Section]:
    checks = tables.get("checks", pd.DataFrame())
    if checks.empty:
        return []
    n = int(checks.loc[checks["collapsed"], "N"].max()) if checks["collapsed"].any() else int(checks["N"].max())
    return [Section("How training ended", "The stopping rule's exact (full-sum) energy checks along the sampled "
                    "training. A check above 0 J is counted as collapsed: the state's norm then sits on configurations "
                    "the Metropolis chains never visit (in the runs seen, the fully polarised ones, E = +N/4 J), which "
                    "the sampled energy cannot see.",
                    [Figure(_exact_checks(checks, summaries["anatomy"], n, tol),
                            f"Exact relative error at each check against the step at N = {n}, one line per seed, "
                            f"coloured by how the model ended; dotted: ε = {tol:g}; dashed: ε = 1 (E = 0 J), above "
                            "which a check is collapsed.")],
                    [Table(summaries["failures"], "Per N and α: how the models ended (collapsed: missed ε < tol "
                           "with the final state collapsed; stalled: missed it otherwise); of the models with stored "
                           "checks, how many ever collapsed, the mean fraction of checks collapsed, the median step "
                           "of the first collapse and the median best ε of those that missed"),
                     Table(summaries["criteria"], "The same rule read off the Monte Carlo estimate: per window "
                           "(iterations over which the sampled ε is averaged), N and α, the models with checks, how "
                           "many the exact rule and the sampled rule count as converged, and of the sampled rule's, "
                           "how many were above tol by the exact energy at that moment, how many collapsed, and their "
                           "median exact ε then. Training stopped at the exact rule, so the sampled one is seen only "
                           "up to there.", keep_empty_rows=True),
                     Table(summaries["path"], "The converged models by their path: per N and α, those that never "
                           "had a check above 0 J (direct), those that passed through the collapse first, and those "
                           "whose checks are not stored; how many, how many with m′ = 0, their m′/M (mean, median) "
                           "and mean ρ at the study's τ")])]


def _per_alpha(sensitivity: pd.DataFrame) -> pd.DataFrame:
    """τ (rows) against α (columns): k ± SE fitted to the seed means ("degenerate" under three sizes) and the mean
    m′/M; α values without any fit are left out."""
    if sensitivity.empty:
        return pd.DataFrame()
    fitted = sensitivity.groupby("alpha")["k_seed_mean"].transform(lambda k: k.notna().any())
    rows = {}
    for (tau, alpha), r in sensitivity[fitted].set_index(["tau", "alpha"]).iterrows():
        row = rows.setdefault(tau, {"τ": tau})
        k, se = r.k_seed_mean, r.k_seed_mean_se
        row[f"k ± SE, α = {alpha}"] = ("degenerate" if r.degenerate_seed_mean else
                                        f"{format_value(k, 3)} ± {format_value(se, 2)}" if np.isfinite(k) else "—")
        row[f"mean m′/M, α = {alpha}"] = r.frac_mean
    return pd.DataFrame(list(rows.values()))


OUTCOME_LABELS = {"converged": "converged (ε < tol)", "collapsed": "ended collapsed",
                  "stalled": "step budget spent (ε ≥ tol)", "error": "stopped by an error"}
"""Column names of ``outcomes`` for the outcomes of ``physlens.studies.hidden_units_checks.OUTCOMES``."""


def outcomes(anatomy: pd.DataFrame) -> pd.DataFrame:
    """One row counting the models of ``anatomy`` (the study's ``failure_anatomy``: one row per model with its
    ``outcome``) and how they ended: converged, ended collapsed (above 0 J, or on a few configurations), spent
    the step budget with ε ≥ tol, or stopped by an error. The last four columns add up to the first."""
    counts = anatomy["outcome"].value_counts()
    return pd.DataFrame([{"models": len(anatomy),
                          **{label: int(counts.get(name, 0)) for name, label in OUTCOME_LABELS.items()}}])


def study_report(tables: dict[str, pd.DataFrame], summaries: dict[str, pd.DataFrame], meta: list[str],
                 config: dict | None = None) -> Report:
    """The study page from ``collect`` tables and ``hidden_units_summary`` results; ``config`` shown as a table."""
    models = tables["models"]
    ok = models[models["converged"]]
    not_ok = models[~models["converged"]][["N", "alpha", "seed", "mode", "state", "steps", "eps", "reason"]]
    sizes = ", ".join(str(n) for n in RECOVERY_SIZES if n in set(ok["N"]))
    trained = set(tables["history"]["N"]) if len(tables["history"]) else {10}
    n_history = 10 if 10 in trained else max(trained)
    return Report("Hidden units of RBM quantum states on Heisenberg rings", [
        Section("Models", "Models that did not reach ε < tol are recorded and excluded from every aggregate.",
                tables=[Table(outcomes(summaries["anatomy"]), "How the models trained so far ended"),
                        Table(summaries["by_size"], "Per ring size N and α: models, converged, fraction of important units",
                              keep_empty_rows=True),
                        Table(not_ok, "Models that did not converge", keep_empty_rows=True)]),
        Section("Energy recovered by the important and the other units", "Top: E of the important units alone and of the "
                "rest alone, as a fraction of the full model's (mean over converged seeds). Bottom: C_zz(r) of one model.",
                [Figure(_recovery(ok), f"Top: energy of the important units alone (red) and of the others alone (grey) "
                        f"as a fraction of the full model's, per α, at N = {sizes}. Bottom: C_zz(r) of the exact ground "
                        "state, the full model, the important units and the others, for one model per N. A model "
                        "with no important unit has an empty important set: its red bar is the network with every "
                        "hidden unit removed (the visible biases alone), its grey bar the full model.")]),
        Section("Scaling with N", "m′ is the number of important units at τ; each point a converged model.",
                [Figure(_fraction_and_fits(summaries["by_size"], ok, summaries["fits"]),
                        "Left: fraction m′/M of important units against N (mean ± sd over seeds). Middle: m′ per "
                        "model with the fitted power law m′ = a N^k (log–log). Right: the exponent k per α.")],
                [Table(summaries["fits"], "Power law m′ = a N^k per α, one point per converged model (n_zero: "
                       "models with m′ = 0, which a log–log fit cannot use; degenerate: fewer than three sizes or no "
                       "variance, so R² and SE are undefined)"),
                 Table(summaries["fits_seed_mean"], "Power law m′ = a N^k per α fitted to the mean m′ over seeds at "
                       "each N (m′ = 0 models included in the mean), as the paper fits")]),
        Section("Sensitivity to τ", "The classification repeated at every τ of the grid from the stored unit impacts.",
                [Figure(_tau(summaries["tau"]), "Mean m′/M (left) and the fitted exponent k (right) against the "
                        "importance threshold τ, per α.")],
                [Table(summaries["window"], "Range of τ where the exponent k < 1, per α"),
                 Table(_per_alpha(summaries["tau"]), "Exponent k and mean m′/M against τ, per α")]),
        Section("Dependence on α", "", [Figure(_alpha(tables["history"], summaries["alpha"], n_history),
                                               f"Left: relative error during training at N = {n_history}, one seed per "
                                               "α (the sampled estimate where the model was trained by sampling). "
                                               "Right: m′/M and ρ against α at N = 12.")],
                [Table(summaries["alpha"], "Per α at N = 12")]),
        *_training_ends(tables, summaries, (config or {}).get("tol", 1e-3)),
    ], meta, config=config)


def _convergence(history: pd.DataFrame) -> plt.Figure:
    fig, (ax_e, ax_v) = plt.subplots(1, 2, figsize=(10, 3.6))
    for alpha, group in history.groupby("alpha"):
        ax_e.semilogy(group["step"], group["eps"], lw=1, label=f"α = {alpha}")
        if "variance" in group:
            ax_v.semilogy(group["step"], group["variance"], lw=1, label=f"α = {alpha}")
    ax_e.set(xlabel="step", ylabel="|E − E0| / |E0|", title="Relative error (exact full sum)")
    ax_v.set(xlabel="step", ylabel="energy variance [J²]", title="Sampled energy variance")
    ax_e.legend(fontsize=8)
    fig.tight_layout()
    return fig


def cases_report(alpha_table: pd.DataFrame, history: pd.DataFrame, links: list[tuple[str, str]], meta: list[str]) -> Report:
    """The case-study page: links to the case models' pages, and the α study's convergence and final numbers."""
    n = int(history["N"].iloc[0]) if len(history) else 10
    return Report("Hidden units: the paper's case studies", [
        Section("Case models", "One model per ring size, trained until ε < 1e-3; each page shows the weight patterns "
                "with S_AFM, ΔE per unit, C_zz(r) after each removal with the phase-inversion measure, single-unit "
                "retention and the energy- against correlation-impact scatter.", links=links),
        Section(f"α dependence at N = {n}", "Every α trained for the same fixed number of steps; energies are exact "
                "full sums, in J (H = J Σ S_i·S_{i+1}, spin-1/2 operators).",
                [Figure(_convergence(history), f"Left: relative error against the step for α = 1 … 4 at N = {n}. "
                        "Right: the energy variance of the Monte Carlo samples at each step.")],
                [Table(alpha_table, f"Final numbers per α at N = {n}", "J", significant={"energy": 7})]),
    ], meta)
