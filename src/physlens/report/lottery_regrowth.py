"""The report section on the way back up: networks regrown level by level beside the IMP tickets, for hysteresis.

Draws the climbs of ``physlens.studies.lottery_regrowth`` (``regrowth.csv`` of each climb, read by the study's
summary): the exact relative energy error and ⟨|m_z|⟩ against ρ, down (IMP) and up (regrown), one colour per climb.

Usage::

    section = regrowth_section(summary.regrowth, summary.observables)
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import ScalarFormatter  # noqa: E402

from physlens.report.html import Figure, Section  # noqa: E402
from physlens.report.tables import Table  # noqa: E402

COLUMNS = {"climb": "climb", "level": "level", "rho": "ρ", "error_down": "relative error, IMP (down)",
           "error_up": "relative error, regrown (up)", "ratio": "up / down", "abs_m_z": "⟨|m_z|⟩ up",
           "fidelity_dense": "fidelity with dense, up"}


def _seed(climb: str) -> int:
    return int(climb.split("-")[1][1:])


def regrowth_figure(regrowth: pd.DataFrame, observables: pd.DataFrame) -> plt.Figure:
    """Left: relative error against ρ, IMP (line) and regrown (squares). Right: ⟨|m_z|⟩ the same way."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    colours = plt.cm.tab10.colors
    for colour, (climb, part) in zip(colours, regrowth.groupby("climb")):
        part = part.sort_values("rho")
        imp = observables[(observables.arm == "imp") & (observables.seed == _seed(climb))]
        down = imp[imp.level.isin(part.level) | (imp.level == part.level.max() + 1)].sort_values("rho")
        left.plot(part.rho, part.error_down, "-o", color=colour, ms=3, lw=1.2, label=f"{climb}: IMP, down")
        left.plot(part.rho, part.error_up, "s--", color=colour, ms=4, lw=1, mfc="white", label=f"{climb}: regrown, up")
        right.plot(down.rho, down.abs_m_z, "-o", color=colour, ms=3, lw=1.2, label="IMP, down")
        right.plot(part.rho, part.abs_m_z, "s--", color=colour, ms=4, lw=1, mfc="white", label="regrown, up")
    left.set(xscale="log", yscale="log", xlabel="ρ: remaining weights per spin", ylabel="relative energy error |E−E0|/|E0|")
    right.set(xscale="log", xlabel="ρ: remaining weights per spin", ylabel="⟨|m_z|⟩ per spin (exact)")
    for ax in (left, right):
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(ScalarFormatter())
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def regrowth_section(regrowth: pd.DataFrame, observables: pd.DataFrame) -> Section:
    """The section: the figure and the table of every climb."""
    return Section(
        "Regrowing the pruned weights (hysteresis)",
        "From a sparse IMP ticket the weights pruning removed are given back level by level (at their rewound values; "
        "the others keep what the sparser network learned) and each level is trained as IMP trains it. A first-order "
        "transition would leave the upward path on the sparse branch past the ρ where IMP jumped. All values are exact "
        "full sums.",
        figures=[Figure(regrowth_figure(regrowth, observables),
                        "Relative energy error (left) and ⟨|m_z|⟩ (right) against ρ: circles and solid lines the IMP "
                        "tickets on the way down, open squares and dashed lines the regrown networks on the way up.")],
        tables=[Table(regrowth[list(COLUMNS)], "The climbs, level by level (exact)", labels=COLUMNS)])
