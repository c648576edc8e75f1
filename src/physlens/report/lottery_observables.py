"""The report section on what the pruned networks represent: magnetisations and fidelities against ρ.

Draws the table of ``physlens.studies.lottery_observables.measure`` (exact full sums, or Monte Carlo
estimates beyond the exact basis, as its ``method`` column says): the
order parameters ⟨|m_z|⟩ and ⟨m_z²⟩, the signed ⟨m_z⟩ Barton et al. plot, the transverse
⟨m_x⟩, and the fidelities with the dense network and with the level before, each against ρ,
the remaining first-layer weights per spin, for the IMP tickets (one line per seed).

Usage::

    section = observables_section(frame, dashed_at=4.0)
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from physlens.quantum.magnetisation import MAGNETISATIONS  # noqa: E402
from physlens.report.html import Figure, Section  # noqa: E402
from physlens.report.tables import Table  # noqa: E402

FIDELITIES = {"fidelity_dense": "|⟨ψ|ψ_dense⟩|²", "fidelity_previous": "|⟨ψ_r|ψ_r−1⟩|²"}


def _how(frame: pd.DataFrame) -> str:
    """``exact`` or ``Monte Carlo``: how ``frame``'s values were obtained."""
    return "Monte Carlo" if "method" in frame and frame["method"].str.startswith("Monte Carlo").any() else "exact"


def observables_figure(frame: pd.DataFrame) -> plt.Figure:
    """Magnetisations (left) and fidelities (right) of the IMP tickets against ρ (log axis, pruning to the right)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    imp = frame[frame.arm == "imp"].sort_values("rho", ascending=False)
    for (column, label), color in zip(MAGNETISATIONS.items(), ("#7f8c8d", "#c0392b", "#e67e22", "#2980b9")):
        for k, (_, part) in enumerate(imp.groupby("seed")):
            left.plot(part.rho, part[column], color=color, lw=1.2, marker="o", ms=2.5, label=label if k == 0 else None)
    for (column, label), color in zip(FIDELITIES.items(), ("#8e44ad", "#16a085")):
        for k, (_, part) in enumerate(imp.groupby("seed")):
            right.plot(part.rho, part[column], color=color, lw=1.2, marker="o", ms=2.5, label=label if k == 0 else None)
    left.set(xscale="log", xlabel="ρ: remaining weights per spin", ylabel=f"magnetisation per spin ({_how(frame)})")
    right.set(xscale="log", xlabel="ρ: remaining weights per spin", ylabel=f"fidelity ({_how(frame)})", ylim=(-0.02, 1.02))
    for ax in (left, right):
        ax.invert_xaxis()
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def observables_section(frame: pd.DataFrame) -> Section:
    """The section: the figure and the IMP rows of ``frame``."""
    imp = frame[frame.arm == "imp"].drop(columns=["arm", "method"], errors="ignore")
    how = ("by full sums over the basis" if _how(frame) == "exact" else
           f"estimated by sampling ({frame['method'].iloc[0]}; ``_sem`` columns: standard errors; fidelities as "
           "⟨ψ_b/ψ_a⟩_a ⟨ψ_a/ψ_b⟩_b)")
    return Section("What the tickets represent",
                   f"Magnetisations per spin (Pauli σ, values in [−1, 1]) and fidelities of every IMP ticket, {how}. "
                   "A first-order transition shows as a jump in ⟨|m_z|⟩ or ⟨m_x⟩ and a dip of the "
                   "fidelity between neighbouring levels.",
                   figures=[Figure(observables_figure(frame), "Left: ⟨m_z⟩, ⟨|m_z|⟩, ⟨m_z²⟩ and ⟨m_x⟩ of each seed's IMP "
                                   "ticket against ρ. Right: its fidelity with the dense network of the same seed and "
                                   "with the ticket one level earlier.")],
                   tables=[Table(imp, f"Magnetisations and fidelities of the IMP tickets ({_how(frame)})")])
