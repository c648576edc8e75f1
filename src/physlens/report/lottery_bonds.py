"""The report section on the lattice bonds the IMP tickets span, beside their errors.

Draws ``bond_table`` of ``physlens.studies.lottery_bonds`` (``summary.bonds``): against ρ, the number of the
Hamiltonian's bonds some surviving filter spans and the units by support (single site, one bond's two sites, wider),
above each seed's relative error with the level where its first bond is lost marked.

Usage::

    section = bonds_section(summary.bonds)
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import ScalarFormatter  # noqa: E402

from physlens.report.html import Figure, Section  # noqa: E402
from physlens.report.tables import Table  # noqa: E402

COLUMNS = {"seed": "seed", "level": "level", "rho": "ρ", "rel_error": "relative error", "bonds_covered": "bonds spanned",
           "bonds": "bonds", "units_alive": "units alive", "single_site_units": "one-site units",
           "bond_units": "bond units", "other_pair_units": "other two-site units", "wider_units": "wider units"}


def first_lost(bonds: pd.DataFrame) -> pd.DataFrame:
    """Per seed, the first ticket that spans fewer bonds than the lattice has (seeds that never lose one left out)."""
    lost = bonds[bonds.bonds_covered < bonds.bonds].sort_values("level")
    return lost.groupby("seed", as_index=False).first()


def bonds_figure(bonds: pd.DataFrame) -> plt.Figure:
    """Top: bonds spanned and units by support against ρ, per seed. Bottom: relative error, the first lost bond
    marked by a ring."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.4), sharex=True)
    lost = first_lost(bonds).set_index("seed")
    for k, (seed, rows) in enumerate(bonds.sort_values("level").groupby("seed")):
        style = ("-", "--", ":", "-.")[k % 4]
        top.plot(rows.rho, rows.bonds_covered, style, color="#c0392b", label=f"bonds spanned, seed {seed}")
        top.plot(rows.rho, rows.bond_units, style, color="#2980b9", label=f"units on one bond, seed {seed}")
        top.plot(rows.rho, rows.single_site_units, style, color="#7f8c8d", label=f"one-site units, seed {seed}")
        top.plot(rows.rho, rows.wider_units, style, color="#27ae60", label=f"wider units, seed {seed}")
        bottom.plot(rows.rho, rows.rel_error, style, marker="o", ms=2.5, color="k", label=f"seed {seed}")
        if seed in lost.index:
            bottom.plot(lost.rho[seed], lost.rel_error[seed], "o", ms=9, mfc="none", color="#c0392b",
                        label="first bond lost" if k == 0 else None)
    top.axhline(bonds.bonds.iloc[0], color="#c0392b", lw=0.6, alpha=0.5)
    top.set(xscale="log", ylabel="count", title=f"The lattice's {int(bonds.bonds.iloc[0])} bonds and the surviving filters")
    bottom.set(xscale="log", yscale="log", xlabel="ρ: remaining first-layer weights per spin",
               ylabel="relative energy error")
    bottom.invert_xaxis()
    bottom.xaxis.set_major_formatter(ScalarFormatter())
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6.5, ncol=2)
    fig.tight_layout()
    return fig


RESCUE_COLUMNS = {"seed": "seed", "arm": "network", "level": "level", "rho": "ρ", "weights_added": "weights given back",
                  "rel_error": "relative error (exact)", "lost_bonds": "lost bonds"}


def bonds_section(bonds: pd.DataFrame, rescue: pd.DataFrame | None = None) -> Section:
    """The section: the figure, the first lost bond per seed, the rescue interventions (when run) and the whole
    table."""
    tables = [Table(first_lost(bonds)[list(COLUMNS)], "The first ticket of each seed that spans fewer bonds than the "
                    "lattice has", labels=COLUMNS)]
    if rescue is not None:
        tables.append(Table(rescue[list(RESCUE_COLUMNS)], "Rescue (physlens prune-rescue): IMP's tickets one level "
                            "before and at the first lost bond; that ticket given back the weights that make a unit "
                            "span each lost bond again (bond) or as many other weights pruned at that level (control), "
                            "trained the level's steps", labels=RESCUE_COLUMNS))
    tables.append(Table(bonds[list(COLUMNS)], "Every IMP ticket", labels=COLUMNS))
    return Section(
        "Which bonds of the lattice the tickets span",
        "A hidden unit spans a bond (i, k) of the Hamiltonian when it keeps first-layer weights on both sites. Counted "
        "for every IMP ticket: the bonds some unit spans, and the alive units by how many sites they read.",
        figures=[Figure(bonds_figure(bonds), "Top: bonds spanned (red), units reading exactly one bond's two sites "
                        "(blue), one site (grey) and more than two (green), against ρ; one line style per seed. "
                        "Bottom: each seed's relative energy error, the ticket where its first bond is lost ringed.")],
        tables=tables)
