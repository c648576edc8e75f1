"""Universality across widths: IMP curves of several lottery studies on one system, against weights per spin.

Barton et al. plot the error of IMP tickets of different widths α against ρ, the remaining
first-layer weights per spin, and ask whether the scaling regions collapse. This section
draws the IMP median relative error of each study against ρ on one log–log figure and
tables each study's fitted breakpoints (``physlens.lens.piecewise``) converted to ρ, with
the exponent of every region, so that "do the boundaries sit at the same ρ" is read off in
numbers. Studies on other systems than the first are left out.

Usage::

    section = universality_section({"a1": summary_a1, "a8": summary_a8})
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from physlens.report.html import Figure, Section  # noqa: E402
from physlens.report.tables import Table  # noqa: E402


def _rho_per_density(summary) -> float:
    """ρ at density 1: N · width first-layer weights over N spins, i.e. the width."""
    return float(summary.study["widths"][0])


def same_system(summaries: dict) -> dict:
    """The summaries on the first one's system and size, trained the same way (optimiser, mode), in the given
    order."""
    first = next(iter(summaries.values())).study
    return {name: s for name, s in summaries.items()
            if (s.study["system"], s.study["size"]) == (first["system"], first["size"]) and len(s.study["widths"]) == 1
            and s.study.get("training_method") == first.get("training_method")}


def breakpoints_frame(summaries: dict) -> pd.DataFrame:
    """One row per study and scaling region: ``study``, ``alpha`` (width per spin), ``rho_low``, ``rho_high``
    (region bounds in weights per spin) and ``exponent`` of the IMP median error."""
    rows = []
    for name, summary in summaries.items():
        if summary.fit is None:
            continue
        scale = _rho_per_density(summary)
        edges = (0.0,) + tuple(summary.fit.breakpoints) + (1.0,)
        for low, high, exponent in zip(edges[:-1], edges[1:], summary.fit.exponents):
            rows.append({"study": name, "alpha": summary.study["widths"][0] / summary.system.hilbert.size,
                         "rho_low": low * scale, "rho_high": high * scale, "exponent": exponent})
    return pd.DataFrame(rows, columns=["study", "alpha", "rho_low", "rho_high", "exponent"])


def universality_figure(summaries: dict) -> plt.Figure:
    """IMP median relative error (min–max over seeds shaded) against ρ, one line per study."""
    fig, ax = plt.subplots(figsize=(7, 4.4))
    for (name, summary), color in zip(summaries.items(), plt.cm.viridis(np.linspace(0, 0.9, len(summaries)))):
        imp = summary.curve[summary.curve.arm == "imp"].sort_values("density")
        rho = imp.density * _rho_per_density(summary)
        alpha = summary.study["widths"][0] / summary.system.hilbert.size
        ax.plot(rho, imp["median"], marker="o", ms=3, color=color, label=f"{name} (α = {alpha:g})")
        ax.fill_between(rho, imp.low, imp.high, color=color, alpha=0.2, lw=0)
    ax.set(xscale="log", yscale="log", xlabel="ρ: remaining first-layer weights per spin",
           ylabel="relative energy error |E−E0|/|E0|")
    ax.invert_xaxis()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def universality_section(summaries: dict) -> Section:
    """The figure and the breakpoint table of the studies on the first study's system."""
    chosen = same_system(summaries)
    first = next(iter(chosen.values())).study
    return Section("Universality in weights per spin",
                   f"IMP tickets of {len(chosen)} widths on {first['system']} {first['size']}, against ρ. The scaling "
                   "regions collapse when the breakpoints of the piecewise power-law fits sit at the same ρ.",
                   figures=[Figure(universality_figure(chosen), "Median relative energy error of the IMP tickets "
                                   "(shaded: best to worst seed) against ρ, the remaining first-layer weights per spin, "
                                   "one line per width.")],
                   tables=[Table(breakpoints_frame(chosen), "Scaling regions of each width in weights per spin: "
                                 "bounds and exponent of the piecewise power law of the IMP median")])
