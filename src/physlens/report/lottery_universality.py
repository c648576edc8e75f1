"""Universality across widths: IMP curves of several lottery studies on one system, against weights per spin.

Barton et al. plot the error of IMP tickets of different widths α against ρ, the remaining
first-layer weights per spin, and ask whether the scaling regions collapse. This section
draws the IMP median relative error of each study against ρ on one log–log figure and
tables each study's fitted breakpoints (``physlens.lens.piecewise``) converted to ρ, with
the exponent of every region, so that "do the boundaries sit at the same ρ" is read off in
numbers, beside the ρ at which each width's error crosses 1e-4, 1e-3 and 1e-2. Only studies of one system and size trained the same way are compared: one section per
such family (``families``).

Usage::

    sections = [universality_section(family) for family in families(summaries)]
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


def families(summaries: dict) -> list[dict]:
    """The studies that one universality figure may compare: one-hidden-layer networks on the same system and
    size, trained the same way (optimiser, mode), at two widths or more; one dict (name → summary, in the given
    order) per such family, in the order their first study appears."""
    groups: dict[tuple, dict] = {}
    for name, s in summaries.items():
        if len(s.study["widths"]) == 1:
            key = (s.study["system"], s.study["size"], s.study.get("training_method"))
            groups.setdefault(key, {})[name] = s
    return [g for g in groups.values() if len({s.study["widths"][0] for s in g.values()}) > 1]


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


ERROR_LEVELS = (1e-4, 1e-3, 1e-2)
"""Relative energy errors at which ``crossings_frame`` reads off each width's ρ (the product state |+…+⟩ of the
4×4 TFIM at h/J = 3.04438, which an emptied network represents, lies at 4.2e-2)."""


def crossing_rho(rho: np.ndarray, error: np.ndarray, level: float) -> float:
    """ρ at which the error first rises through ``level`` going from dense to sparse, interpolated linearly in
    log ρ and log error between the two levels around it; NaN if the curve never crosses it.

    Args:
        rho: remaining weights per spin of the levels, shape (L,), in pruning order (decreasing).
        error: relative energy error at those levels, shape (L,).
    """
    above = np.flatnonzero(error > level)
    if not len(above) or above[0] == 0:
        return float("nan")
    i = above[0]
    lr, le = np.log(rho[i - 1:i + 1]), np.log(error[i - 1:i + 1])
    return float(np.exp(lr[0] + (np.log(level) - le[0]) * (lr[1] - lr[0]) / (le[1] - le[0])))


def crossings_frame(summaries: dict, levels: tuple[float, ...] = ERROR_LEVELS) -> pd.DataFrame:
    """One row per study: ``study``, ``alpha`` and, per error level, the ρ at which its IMP median error first
    exceeds it (``crossing_rho``); the curves collapse in ρ where a column is constant down the widths."""
    rows = []
    for name, summary in summaries.items():
        imp = summary.curve[summary.curve.arm == "imp"].sort_values("density", ascending=False)
        rho = imp.density.to_numpy() * _rho_per_density(summary)
        row = {"study": name, "alpha": summary.study["widths"][0] / summary.system.hilbert.size}
        row.update({f"rho_at_{level:g}": crossing_rho(rho, imp["median"].to_numpy(), level) for level in levels})
        rows.append(row)
    return pd.DataFrame(rows)


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


def universality_section(family: dict) -> Section:
    """The figure and the breakpoint table of one family of studies (``families``)."""
    first = next(iter(family.values())).study
    widths = len({s.study["widths"][0] for s in family.values()})
    method = first.get("training_method", "Adam on exact full-sum gradients")
    return Section(f"Universality in weights per spin: {first['system']} {first['size']}, {method.split(',')[0]}",
                   f"IMP tickets of {widths} widths on {first['system']} {first['size']}, trained by {method}, against "
                   "ρ. The scaling regions collapse when the breakpoints of the piecewise power-law fits sit at the "
                   "same ρ.",
                   figures=[Figure(universality_figure(family), "Median relative energy error of the IMP tickets "
                                   "(shaded: best to worst seed) against ρ, the remaining first-layer weights per spin, "
                                   "one line per study.")],
                   tables=[Table(crossings_frame(family), "ρ at which each study's IMP median relative error "
                                 "first exceeds 1e-4, 1e-3 and 1e-2 (log–log interpolation between levels; blank: "
                                 "never): the curves collapse where a column is the same for every width"),
                           Table(breakpoints_frame(family), "Scaling regions of each study in weights per spin: "
                                 "bounds and exponent of the piecewise power law of the IMP median")])
