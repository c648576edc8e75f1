"""The report of a quench evolution: the network's observables against time beside the exact curves, and the fidelity.

``evolution_report`` draws a finished (or interrupted) ``physlens.quantum.dynamics.Evolution``; it
computes nothing::

    evolution_report(load("runs/quench12")).write("runs/quench12/report.html")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from physlens.quantum.quench import Trajectory  # noqa: E402
from physlens.report.html import Figure, Report, Section  # noqa: E402
from physlens.report.tables import Table  # noqa: E402

if TYPE_CHECKING:
    from physlens.quantum.dynamics import Evolution
    from physlens.quantum.systems import SpinSystem

NQS_COLOUR, EXACT_COLOUR = "#c0392b", "#222222"
TABLE_ROWS = 21
"""Saved times shown in the table (evenly spaced, first and last included)."""


def _panels(traj: Trajectory, conserves_sz: bool) -> list[tuple[str, str, np.ndarray]]:
    """(title, y label, values ``(T,)``) of each panel: the order parameter, C_zz(1), half-chain, energy drift."""
    first = ("staggered magnetisation", "m_s [ħ]", traj.m_s_T) if conserves_sz else \
        ("transverse magnetisation", "m_x [ħ]", traj.m_x_T)
    return [first, ("nearest-neighbour correlator", "C_zz(1, t) [ħ²]", traj.czz_TR[:, 1]),
            ("half-chain correlator", "C_zz(N/2, t) [ħ²]", traj.half_chain_T),
            ("energy drift", f"E(t) − E(0) [{traj.unit}]", traj.energy_drift_T)]


def observables_figure(evolution: Evolution) -> plt.Figure:
    """Four panels against time: the order parameter, C_zz(1, t), C_zz(N/2, t) and the energy drift, NQS and exact."""
    conserves_sz = evolution.config.build_quench().after.conserves_sz
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.3))
    for ax, nqs, exact in zip(axes, _panels(evolution.nqs, conserves_sz), _panels(evolution.exact, conserves_sz)):
        ax.plot(evolution.exact.times_T, exact[2], "--", color=EXACT_COLOUR, lw=1.2, label="exact")
        ax.plot(evolution.nqs.times_T, nqs[2], "o-", color=NQS_COLOUR, ms=2.5, lw=1, label="TDVP (NQS)")
        ax.set(xlabel=f"t [ħ/{evolution.nqs.unit}]", ylabel=nqs[1], title=nqs[0])
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def fidelity_figure(evolution: Evolution) -> plt.Figure:
    """|⟨ψ_NQS(t)|ψ_exact(t)⟩|² and the infidelity 1 − F (log scale) against time."""
    t_K, f_K = evolution.nqs.times_T, evolution.fidelity_T
    fig, (ax_f, ax_i) = plt.subplots(1, 2, figsize=(9, 3.2))
    ax_f.plot(t_K, f_K, "o-", color=NQS_COLOUR, ms=2.5, lw=1)
    ax_f.set(xlabel=f"t [ħ/{evolution.nqs.unit}]", ylabel="F(t)", title="fidelity to the exact state", ylim=(None, 1.0))
    ax_i.semilogy(t_K, np.clip(1.0 - f_K, 1e-16, None), "o-", color=NQS_COLOUR, ms=2.5, lw=1)
    ax_i.set(xlabel=f"t [ħ/{evolution.nqs.unit}]", ylabel="1 − F(t)", title="infidelity")
    fig.tight_layout()
    return fig


def curves_table(evolution: Evolution) -> Table:
    """The curves at up to ``TABLE_ROWS`` evenly spaced saved times, NQS beside exact."""
    frame = evolution.frame()
    picks = np.unique(np.linspace(0, len(frame) - 1, min(TABLE_ROWS, len(frame))).round().astype(int))
    columns = ["t", "fidelity", "m_x", "exact_m_x", "m_s", "exact_m_s", "czz_1", "exact_czz_1", "half_chain",
               "exact_half_chain", "energy_drift"]
    if evolution.config.build_quench().after.conserves_sz:
        columns = [c for c in columns if "m_x" not in c]
    else:
        columns = [c for c in columns if "m_s" not in c]
    unit = evolution.nqs.unit
    labels = {"t": f"t [ħ/{unit}]", "fidelity": "fidelity F", "energy_drift": f"NQS E(t) − E(0) [{unit}]"}
    for name, text, dim in (("m_x", "m_x", "ħ"), ("m_s", "m_s", "ħ"), ("czz_1", "C_zz(1)", "ħ²"),
                            ("half_chain", "C_zz(N/2)", "ħ²")):
        labels |= {name: f"NQS {text} [{dim}]", f"exact_{name}": f"exact {text} [{dim}]"}
    return Table(frame.iloc[picks][columns], "NQS against exact at saved times (S = σ/2; ħ = 1)", unit=unit,
                 labels=labels, significant={"fidelity": 6})


def describe_system(system: SpinSystem) -> str:
    """``tfim-chain N=12 (h=1, J=1, pbc=True)``: the kind, the size and the other parameters."""
    params = {k: v for k, v in system.params().items() if k != "system"}
    params.pop(next(iter(params)))
    values = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
    return f"{system.kind} N={system.n_sites} ({values})"


def departure_time(evolution: Evolution, threshold: float) -> float | None:
    """The first saved time at which the fidelity falls below ``threshold``; None if it never does."""
    below = np.flatnonzero(evolution.fidelity_T < threshold)
    return float(evolution.nqs.times_T[below[0]]) if below.size else None


def evolution_report(evolution: Evolution, title: str | None = None) -> Report:
    """The page of one evolution: what was evolved, observables against time, fidelity, the curves as a table."""
    config, status = evolution.config, evolution.status
    quench = config.build_quench()
    after = quench.after
    neel = quench.start == "neel"
    start = "the Néel state" if neel else f"the ground state of {describe_system(quench.before)}"
    title = title or f"Quench dynamics: {after.kind} N={after.n_sites}"
    t_last, f_K = float(evolution.nqs.times_T[-1]), evolution.fidelity_T
    at_zero = "the near-Néel RBM against the Néel state" if neel else "the trained state against the exact ground state"
    summary = (f"The network starts from {config.source or 'the given parameters'} and is evolved under "
               f"{describe_system(after)} by NetKet's {evolution.nqs.method}. The exact reference evolves {start} by "
               f"scipy's expm_multiply on the whole basis. State of the evolution: {status.get('state')}, reached "
               f"t = {t_last:g}.\n\n"
               f"Fidelity |⟨ψ_NQS|ψ_exact⟩|² = {f_K[0]:.6f} at t = 0 ({at_zero}), {f_K.min():.6f} at its lowest "
               f"and {f_K[-1]:.6f} at t = {t_last:g}.")
    for threshold in (0.99, 0.9):
        when = departure_time(evolution, threshold)
        summary += (f" It falls below {threshold:g} at t = {when:g}." if when is not None
                    else f" It stays above {threshold:g} up to t = {t_last:g}.")
    sections = [
        Section("Summary", summary),
        Section("Observables against time", "Observables of the network (full sums over the basis at every saved "
                "time) beside the exact curves. Spin operators S = σ/2, so magnetisations are in ħ and correlators "
                "in ħ²; times in ħ over the energy unit.",
                figures=[Figure(observables_figure(evolution),
                                "Left to right: the order parameter (m_x for the TFIM, staggered m_s where S^z is "
                                "conserved), C_zz(1, t), the half-chain correlator C_zz(N/2, t) and the energy drift "
                                "E(t) − E(0); red dots the TDVP-evolved network, dashed black the exact evolution.")]),
        Section("Fidelity", figures=[Figure(fidelity_figure(evolution),
                                            "Fidelity of the network to the exactly evolved state (left) and the "
                                            "infidelity 1 − F on a log scale (right), at every saved time.")],
                tables=[curves_table(evolution)], unit=evolution.nqs.unit),
    ]
    meta = ["exact sums over the whole basis (observables, fidelity); exact reference by Krylov evolution",
            f"{quench.after.hilbert.n_states} basis states"]
    return Report(title, sections, meta=meta, config=config.to_dict())
