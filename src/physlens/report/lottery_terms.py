"""The report section on the interaction terms the IMP tickets span, beside their errors.

Draws ``term_table`` of ``physlens.studies.lottery_terms`` (``summary.terms``): against ρ, the number of the
Hamiltonian's terms (bonds; the toric code's plaquettes) some surviving filter spans and the units by support (on
exactly one term, one site, wider), above each seed's relative error with the level where its first term is lost
marked. Where the study ran iterative random pruning (``summary.terms_random``), its terms spanned and errors are
drawn beside IMP's.

Usage::

    section = terms_section(summary.terms, summary.rescue, summary.terms_random)
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import ScalarFormatter  # noqa: E402

from physlens.report.html import Figure, Section  # noqa: E402
from physlens.report.tables import Table  # noqa: E402


SEED_STYLES = ("-", "--", ":", "-.")
"""Line style of each seed, the same for IMP and for iterative random pruning."""


def _columns(term: str) -> dict[str, str]:
    return {"seed": "seed", "level": "level", "rho": "ρ", "rel_error": "relative error",
            "terms_covered": f"{term}s spanned", "terms": f"{term}s", "units_alive": "units alive",
            "term_units": f"units on one {term}", "single_site_units": "other one-site units",
            "other_pair_units": "other two-site units", "wider_units": "other wider units"}


def first_lost(terms: pd.DataFrame) -> pd.DataFrame:
    """Per seed, the first ticket that spans fewer terms than the Hamiltonian has (seeds that never lose one left
    out)."""
    lost = terms[terms.terms_covered < terms.terms].sort_values("level")
    return lost.groupby("seed", as_index=False).first()


def terms_figure(terms: pd.DataFrame, random: pd.DataFrame | None = None) -> plt.Figure:
    """Top: terms spanned and units by support against ρ, per seed. Bottom: relative error, the first lost term
    marked by a ring. ``random``: the same table for iterative random pruning, whose terms spanned and errors are
    drawn in orange."""
    term = terms.term.iloc[0]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.4), sharex=True)
    lost = first_lost(terms).set_index("seed")
    spanned = top.twinx()
    for k, (seed, rows) in enumerate(terms.sort_values("level").groupby("seed")):
        style = SEED_STYLES[k % len(SEED_STYLES)]
        spanned.plot(rows.rho, rows.terms_covered, style, lw=2, color="#c0392b", label=f"{term}s spanned, seed {seed}")
        top.plot(rows.rho, rows.term_units, style, color="#2980b9", label=f"units on one {term}, seed {seed}")
        top.plot(rows.rho, rows.single_site_units, style, color="#7f8c8d", label=f"one-site units, seed {seed}")
        top.plot(rows.rho, rows.wider_units, style, color="#27ae60", label=f"other wider units, seed {seed}")
        bottom.plot(rows.rho, rows.rel_error, style, marker="o", ms=2.5, color="k", label=f"seed {seed}")
        if seed in lost.index:
            bottom.plot(lost.rho[seed], lost.rel_error[seed], "o", ms=9, mfc="none", color="#c0392b",
                        label=f"first {term} lost" if k == 0 else None)
    for k, (seed, rows) in enumerate(() if random is None else random.sort_values("level").groupby("seed")):
        style = SEED_STYLES[k % len(SEED_STYLES)]
        spanned.plot(rows.rho, rows.terms_covered, style, lw=1.2, color="#e67e22",
                     label=f"{term}s spanned, random pruning, seed {seed}")
        bottom.plot(rows.rho, rows.rel_error, style, lw=1, color="#e67e22",
                    label=f"random pruning, seed {seed}")
    n_terms = int(terms.terms.iloc[0])
    spanned.set_ylim(0, 1.05 * n_terms)
    spanned.set_ylabel(f"{term}s spanned (of {n_terms})", color="#c0392b")
    spanned.tick_params(axis="y", colors="#c0392b")
    spanned.legend(fontsize=6.5, loc="center right")
    top.set(xscale="log", ylabel="units", title=f"The Hamiltonian's {n_terms} {term}s and the surviving filters")
    bottom.set(xscale="log", yscale="log", xlabel="ρ: remaining first-layer weights per spin",
               ylabel="relative energy error")
    bottom.invert_xaxis()
    bottom.xaxis.set_major_formatter(ScalarFormatter())
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6.5, ncol=2)
    fig.tight_layout()
    return fig


def terms_section(terms: pd.DataFrame, rescue: pd.DataFrame | None = None,
                  random: pd.DataFrame | None = None) -> Section:
    """The section: the figure, the first lost term per seed (of IMP and, given ``random``, of iterative random
    pruning), the rescue interventions (when run) and the whole table."""
    term = terms.term.iloc[0]
    columns = _columns(term)
    rescue_columns = {"seed": "seed", "arm": "network", "level": "level", "rho": "ρ",
                      "units_given": f"units per lost {term}", "weights_added": "weights given back",
                      "rel_error": "relative error (exact)", "lost_terms": f"lost {term}s (sites)"}
    tables = [Table(first_lost(terms)[list(columns)], f"The first ticket of each seed that spans fewer {term}s than "
                    "the Hamiltonian has", labels=columns)]
    if random is not None:
        tables.append(Table(first_lost(random)[list(columns)], f"The first network of iterative random pruning of each "
                            f"seed that spans fewer {term}s than the Hamiltonian has", labels=columns))
    if rescue is not None:
        tables.append(Table(rescue[list(rescue_columns)], f"Rescue (physlens prune-rescue): IMP's tickets one level "
                            f"before and at the first lost {term}; that ticket given back the weights that make one unit "
                            f"(the one needing fewest) or every unit one level up span each lost {term} again (network "
                            "'term'), or as many other weights pruned at that "
                            "level (control), trained the level's steps", labels=rescue_columns))
    tables.append(Table(terms[list(columns)], "Every IMP ticket", labels=columns))
    what = ("the σ^z plaquette terms, which an amplitude filter can read (a star term flips its four edges)"
            if term == "plaquette" else "the Hamiltonian's two-site bonds")
    return Section(
        f"Which {term}s of the Hamiltonian the tickets span",
        f"A hidden unit spans a {term} when it keeps first-layer weights on all its sites; counted here against "
        f"{what}. For every IMP ticket: the {term}s some unit spans, and the alive units by the sites they read.",
        figures=[Figure(terms_figure(terms, random), f"Top: {term}s spanned (red, right axis; orange: iterative random "
                        f"pruning, when run), units reading exactly one {term}'s sites "
                        "(blue), and of the other units those on one site (grey) and on more than two (green), "
                        "against ρ; one line style per seed. Bottom: each seed's relative energy error, the ticket "
                        f"where its first {term} is lost ringed (orange: iterative random pruning).")],
        tables=tables)
