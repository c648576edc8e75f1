"""Figures of one trained model and its hidden units, drawn from results (never from live models).

Each function takes finished data (a metrics DataFrame, a ``UnitScan``, arrays) and
returns a matplotlib ``Figure``; ``report.html`` embeds them.

Usage::

    fig = energy_convergence(run.metrics(), e0=run.reference["energy"], unit="J")
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import pandas as pd  # noqa: E402

from physlens.lens.units import UnitScan  # noqa: E402

IMPORTANT, OTHER = "#c0392b", "#7f8c8d"


def energy_convergence(metrics: pd.DataFrame, e0: float, unit: str) -> plt.Figure:
    """Energy and relative error ε = |E − E0|/|E0| against the SR step."""
    fig, (ax_e, ax_eps) = plt.subplots(1, 2, figsize=(10, 3.4))
    ax_e.plot(metrics["step"], metrics["energy"], lw=1, label="E (training estimate)")
    if "energy_fullsum" in metrics:
        exact = metrics.dropna(subset=["energy_fullsum"])
        ax_e.plot(exact["step"], exact["energy_fullsum"], "o", ms=3, label="E (full sum)")
    ax_e.axhline(e0, color="k", ls="--", lw=0.8, label="E0 (exact)")
    ax_e.set(xlabel="step", ylabel=f"energy [{unit}]", title="Energy")
    ax_e.legend(fontsize=8)
    ax_eps.semilogy(metrics["step"], metrics["eps"], lw=1)
    ax_eps.set(xlabel="step", ylabel="|E − E0| / |E0|", title="Relative error")
    fig.tight_layout()
    return fig


def czz_emergence(metrics: pd.DataFrame, exact_czz_R: np.ndarray | None = None, n_curves: int = 8) -> plt.Figure:
    """C_zz(r) at logged steps during training (colour: step), with the exact ground state's."""
    logged = metrics.dropna(subset=["czz"]) if "czz" in metrics else metrics.iloc[:0]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    picks = logged.iloc[np.unique(np.linspace(0, len(logged) - 1, min(n_curves, len(logged))).astype(int))] if len(logged) else logged
    cmap = plt.get_cmap("viridis")
    for i, (_, row) in enumerate(picks.iterrows()):
        ax.plot(np.arange(len(row["czz"])), row["czz"], "o-", ms=3, lw=1, color=cmap(i / max(len(picks) - 1, 1)),
                label=f"step {int(row['step'])}")
    if exact_czz_R is not None:
        ax.plot(np.arange(len(exact_czz_R)), exact_czz_R, "k--", lw=1, label="exact")
    ax.axhline(0, color="k", lw=0.5)
    ax.set(xlabel="r", ylabel="C_zz(r) [ħ²]", title="Correlations emerging during training")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def unit_weights(weights_MN: np.ndarray, scores_M: np.ndarray, important_M: np.ndarray) -> plt.Figure:
    """Each hidden unit's weights over the sites, sorted by |S_AFM|, beside its score."""
    order = np.argsort(-np.abs(scores_M))
    fig, (ax_w, ax_s) = plt.subplots(1, 2, figsize=(10, 0.25 * len(order) + 1.5), gridspec_kw={"width_ratios": [3, 1]})
    lim = np.abs(weights_MN).max()
    im = ax_w.imshow(weights_MN[order], cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax_w.set(xlabel="site i", ylabel="unit (sorted by |S_AFM|)", yticks=range(len(order)), yticklabels=order)
    ax_w.tick_params(axis="y", labelsize=6)
    fig.colorbar(im, ax=ax_w, label="W_ij")
    colours = np.where(important_M[order], IMPORTANT, OTHER)
    ax_s.barh(np.arange(len(order)), scores_M[order], color=colours)
    ax_s.set(xlim=(-1, 1), ylim=(len(order) - 0.5, -0.5), yticks=[], xlabel="S_AFM (red: important)")
    fig.tight_layout()
    return fig


def delta_energy(scan: UnitScan, tau: float) -> plt.Figure:
    """ΔE(j) = E_removed − E_full per unit; important units in red."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.bar(np.arange(scan.n_units), scan.delta_energy_M, color=np.where(scan.important(tau), IMPORTANT, OTHER))
    ax.set(xlabel="hidden unit j", ylabel=f"ΔE(j) [{scan.unit}]", title=f"Single-unit ablation (τ = {tau})")
    fig.tight_layout()
    return fig


def delta_correlations(scan: UnitScan, n_each: int = 3) -> plt.Figure:
    """ΔC(j)(r) for the units with the largest and the smallest correlation impact."""
    order = np.argsort(-scan.observable_impact_M)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    r = np.arange(scan.delta_observable_MR.shape[1])
    for j in order[:n_each]:
        ax.plot(r, scan.delta_observable_MR[j], "o-", ms=3, color=IMPORTANT, label=f"unit {j} (most)")
    for j in order[-n_each:]:
        ax.plot(r, scan.delta_observable_MR[j], "s--", ms=3, color=OTHER, label=f"unit {j} (least)")
    ax.axhline(0, color="k", lw=0.5)
    ax.set(xlabel="r", ylabel=f"Δ{scan.observable}(r)", title="Correlation change on ablation")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def retention(scan: UnitScan, e0: float) -> plt.Figure:
    """Energy with only unit j kept, against the full model and E0."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.bar(np.arange(scan.n_units), scan.energy_retained_M, color=OTHER)
    ax.axhline(scan.energy_full, color="C0", lw=1, label="full model")
    ax.axhline(e0, color="k", ls="--", lw=0.8, label="E0 (exact)")
    ax.set(xlabel="hidden unit j kept alone", ylabel=f"energy [{scan.unit}]", title="Single-unit retention")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def impact_scatter(scan: UnitScan, tau: float) -> plt.Figure:
    """Energy impact against correlation impact per unit, with the τ lines and ρ."""
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.scatter(scan.energy_impact_M, scan.observable_impact_M, s=18,
               c=np.where(scan.important(tau), IMPORTANT, OTHER))
    ax.axvline(tau, color="k", ls=":", lw=0.8)
    ax.axhline(tau, color="k", ls=":", lw=0.8)
    ax.set(xlabel="|ΔE| / |E_full|", ylabel=f"Σ|Δ{scan.observable}| / Σ|{scan.observable}|",
           title=f"Impact per unit (ρ = {scan.rho:.2f})")
    fig.tight_layout()
    return fig


def phase_inversion(staggered_removed_M: np.ndarray, staggered_full: float, important_M: np.ndarray) -> plt.Figure:
    """Néel character A of C_zz(r) after removing each unit (A < 0: the staggered pattern inverted)."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.bar(np.arange(staggered_removed_M.size), staggered_removed_M, color=np.where(important_M, IMPORTANT, OTHER))
    ax.axhline(staggered_full, color="C0", lw=1, label=f"full model (A = {staggered_full:.3f})")
    ax.axhline(0, color="k", lw=0.5)
    ax.set(xlabel="hidden unit j removed", ylabel="A = Σ(−1)^r C_zz(r) / Σ|C_zz(r)|", ylim=(-1.05, 1.05),
           title=f"Staggered pattern after removal ({int((staggered_removed_M * staggered_full < 0).sum())} inverted)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
