"""The report of one SAE feature steered at t₀ of a quench: the edit carried forward by the Hamiltonian beside the
feature's own effect at each later time, and whether the two commute.

``steered_report`` draws a ``physlens.quantum.steered_dynamics.SteeredDynamics``; it computes nothing::

    steered_report(steer_and_evolve(evolution, features, 4, [0, 2]), "TFIM N=12, h 0.5 → 1").write("report.html")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from physlens.report.html import Figure, Report, Section  # noqa: E402
from physlens.report.tables import Table  # noqa: E402

if TYPE_CHECKING:
    from physlens.quantum.steered_dynamics import SteeredDynamics

PANELS = (("m_x", "transverse magnetisation", "Δm_x [ħ]"), ("czz_1", "nearest-neighbour correlator", "ΔC_zz(1) [ħ²]"),
          ("half_chain", "half-chain correlator", "ΔC_zz(N/2) [ħ²]"), ("energy", "energy", "ΔE [{unit}]"))
"""(observable, title, y label) of each panel of the difference figure."""


def _strength_colours(n: int) -> list:
    return list(plt.cm.viridis(np.linspace(0.0, 0.85, n)))


def deltas_figure(steered: SteeredDynamics, unit: str) -> plt.Figure:
    """Δ_propagated (solid) and Δ_feature (dashed) against time for each strength, one panel per observable."""
    frame = steered.frame()
    fig, axes = plt.subplots(1, len(PANELS), figsize=(15, 3.3))
    colours = _strength_colours(len(steered.strengths_K))
    for ax, (name, title, label) in zip(axes, PANELS):
        rows = frame[frame.observable == name]
        for colour, strength in zip(colours, steered.strengths_K):
            one = rows[rows.strength == strength]
            ax.plot(one.t, one.delta_propagated, "-", color=colour, lw=1.4)
            ax.plot(one.t, one.delta_feature, "--", color=colour, lw=1.1)
        ax.axhline(0.0, color="#999999", lw=0.6)
        ax.set(xlabel=f"t [ħ/{unit}]", ylabel=label.format(unit=unit), title=title)
    handles = [Line2D([], [], color=c, lw=1.4, label=f"s = {s:g}") for c, s in zip(colours, steered.strengths_K)]
    handles += [Line2D([], [], color="#555555", ls="-", label="steer at t₀, then evolve exactly"),
                Line2D([], [], color="#555555", ls="--", label="TDVP network at t, then steer")]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def commutation_figure(steered: SteeredDynamics, unit: str) -> plt.Figure:
    """|⟨steer → evolve|evolve → steer⟩|² per strength, and the TDVP network's fidelity to the exact evolution of
    itself at t₀, against time."""
    fig, ax = plt.subplots(figsize=(6.5, 3.3))
    for colour, strength, f_T in zip(_strength_colours(len(steered.strengths_K)), steered.strengths_K,
                                     steered.commute_KT):
        ax.plot(steered.times_T, f_T, "o-", color=colour, ms=2.5, lw=1, label=f"s = {strength:g}")
    ax.plot(steered.times_T, steered.tdvp_fidelity_T, "--", color="#c0392b", lw=1.2, label="unsteered: TDVP vs exact")
    ax.set(xlabel=f"t [ħ/{unit}]", ylabel="fidelity", ylim=(None, 1.0), title="do steering and evolution commute?")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def summary_frame(steered: SteeredDynamics) -> pd.DataFrame:
    """One row per strength: the edit's effect at t₀ and at the last time, both ways, and the fidelities."""
    frame = steered.frame()
    t0, t_end = steered.times_T[0], steered.times_T[-1]
    rows = []
    for k, strength in enumerate(steered.strengths_K):
        one = frame[frame.strength == strength]
        at = {t: one[one.t == t].set_index("observable") for t in (t0, t_end)}
        rows.append({"strength": strength, "delta_m_x_t0": at[t0].delta_propagated["m_x"],
                     "delta_czz_1_t0": at[t0].delta_propagated["czz_1"], "delta_energy": at[t0].delta_propagated["energy"],
                     "delta_m_x_end_propagated": at[t_end].delta_propagated["m_x"],
                     "delta_m_x_end_feature": at[t_end].delta_feature["m_x"],
                     "overlap": steered.overlap_KT[k, 0], "commute_end": steered.commute_KT[k, -1]})
    return pd.DataFrame(rows)


def steered_report(steered: SteeredDynamics, description: str, unit: str, config: dict | None = None) -> Report:
    """The page: what was steered and when, the difference curves both ways, the commutation fidelity, a table."""
    t0, t_end = float(steered.times_T[0]), float(steered.times_T[-1])
    summary = (f"{description}. SAE feature {steered.feature} is steered ({steered.mode}, strengths "
               f"{', '.join(f'{s:g}' for s in steered.strengths_K)}) in the network saved at t₀ = {t0:g} and followed "
               f"to t = {t_end:g} two ways. Steer → evolve: the steered state at t₀ evolved exactly under the "
               f"post-quench Hamiltonian, minus the exact evolution of the unsteered network at t₀ (what physics does "
               f"with the edit). Evolve → steer: the TDVP network at each time with the same edit, minus that network "
               f"unsteered (what the feature does at that time). Both agree at t₀; where they stay together, steering "
               f"the feature commutes with the dynamics.")
    labels = {"strength": "strength s", "delta_m_x_t0": "Δm_x at t₀ [ħ]", "delta_czz_1_t0": "ΔC_zz(1) at t₀ [ħ²]",
              "delta_energy": f"ΔE (conserved) [{unit}]", "delta_m_x_end_propagated": f"Δm_x at t = {t_end:g}, steer → evolve [ħ]",
              "delta_m_x_end_feature": f"Δm_x at t = {t_end:g}, evolve → steer [ħ]",
              "overlap": "overlap with the unsteered state", "commute_end": f"commutation fidelity at t = {t_end:g}"}
    sections = [
        Section("Summary", summary, tables=[Table(summary_frame(steered), "The edit at t₀ and at the last time",
                                                  unit=unit, labels=labels)]),
        Section("The edit against time", figures=[Figure(
            deltas_figure(steered, unit),
            "Difference made by the edit against time (S = σ/2, ħ = 1): solid, steered at t₀ and evolved exactly, "
            "minus the unsteered network at t₀ evolved exactly; dashed, the TDVP network at t steered, minus it "
            "unsteered. The energy difference of the solid curves is conserved.")]),
        Section("Commutation", figures=[Figure(
            commutation_figure(steered, unit),
            "Fidelity between the state steered at t₀ and evolved exactly and the TDVP network at t steered with the "
            "same edit (solid, one line per strength); dashed red, the unsteered TDVP network against the exact "
            "evolution of itself at t₀, the part of the difference that TDVP's own error explains.")]),
    ]
    meta = ["exact sums over the whole basis; exact evolution by Krylov (expm_multiply)"]
    return Report(f"Steering feature {steered.feature} at t₀ = {t0:g}", sections, meta=meta, config=config or {})
