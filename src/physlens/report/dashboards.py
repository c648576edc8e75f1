"""Feature dashboards: one HTML page per SAE feature, linked from a run's report.

Each page shows, from finished data only: the (Born-weighted) histogram of the feature's
activation, the configurations on which it fires most drawn on the lattice (site
coordinates come in as data), its correlation with every observable, and its steering
curve when one was measured::

    views = [FeatureView(f, acts_SF[:, f], weights_S, sigma_SN, coords_ND, match.r_FO[f], match.observables,
                         match.label(f), curve if f == steered else None) for f in features]
    links = write_dashboards(views, out / "features", title="SAE on resid.final")
    Section("Features", links=links)          # in the run's report
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from physlens.errors import PhyslensError  # noqa: E402
from physlens.lens.steering import SteeringCurve  # noqa: E402
from physlens.report.html import Figure, Report, Section  # noqa: E402
from physlens.report.tables import Table  # noqa: E402

N_TOP = 6
"""Top-activating configurations drawn per feature."""
UP, DOWN = "#c0392b", "#2c3e50"


@dataclass(frozen=True)
class FeatureView:
    """What a feature page shows.

    Attributes:
        feature: the feature's index.
        acts_S: its activation on each configuration, ``(S,)``.
        weights_S: Born weights of the configurations (exact enumeration), or None for samples.
        sigma_SN: the configurations, ``(S, N)`` (±1 spins).
        coords_ND: site coordinates, ``(N, d)``, d = 1 or 2, in lattice spacings.
        r_O: Pearson r of the activation with each observable, ``(O,)``.
        observables: the observables' names, length O.
        label: short description (best match and its r).
        curve: the feature's steering curve, or None when it was not steered.
    """

    feature: int
    acts_S: np.ndarray
    weights_S: np.ndarray | None
    sigma_SN: np.ndarray
    coords_ND: np.ndarray
    r_O: np.ndarray
    observables: tuple[str, ...]
    label: str
    curve: SteeringCurve | None = None

    @property
    def filename(self) -> str:
        """File name of the feature's page, e.g. ``feature_0007.html`` (inside the dashboards folder)."""
        return f"feature_{self.feature:04d}.html"


def activation_histogram(view: FeatureView) -> plt.Figure:
    """Histogram of the feature's activation over configurations (Born-weighted when weights are given)."""
    weights_S = None if view.weights_S is None else view.weights_S / np.sum(view.weights_S)
    active = view.acts_S > 0
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    if active.any():
        ax.hist(view.acts_S[active], bins=40, weights=None if weights_S is None else weights_S[active], color="C0")
    frequency = float(np.sum(weights_S[active])) if weights_S is not None else float(active.mean())
    ax.set(xlabel="activation (where > 0)", ylabel="Born weight" if weights_S is not None else "samples",
           title=f"feature {view.feature}: active on {frequency:.1%}")
    fig.tight_layout()
    return fig


def top_indices(acts_S: np.ndarray, sigma_SN: np.ndarray, n_top: int = N_TOP) -> np.ndarray:
    """Rows of the ``n_top`` distinct configurations with the largest activation, largest first."""
    order = np.argsort(-np.asarray(acts_S), kind="stable")
    _, first = np.unique(np.asarray(sigma_SN)[order], axis=0, return_index=True)
    return order[np.sort(first)[:n_top]]


def top_configurations(view: FeatureView, n_top: int = N_TOP) -> plt.Figure:
    """The ``n_top`` distinct configurations with the largest activation, spins drawn at their sites."""
    picks = top_indices(view.acts_S, view.sigma_SN, n_top)
    coords_ND = np.asarray(view.coords_ND, dtype=float)
    xy_N2 = np.column_stack([coords_ND[:, 0], coords_ND[:, 1] if coords_ND.shape[1] > 1 else np.zeros(len(coords_ND))])
    flat = coords_ND.shape[1] == 1
    fig, axes = plt.subplots(len(picks), 1, figsize=(6, 0.7 * len(picks) + 0.6)) if flat else \
        plt.subplots(1, len(picks), figsize=(2.1 * len(picks), 2.4))
    for ax, s in zip(np.atleast_1d(axes), picks):
        spins_N = view.sigma_SN[s]
        ax.scatter(xy_N2[:, 0], xy_N2[:, 1], c=np.where(spins_N > 0, UP, DOWN), marker="s", s=60 if flat else 120)
        ax.set_title(f"a = {view.acts_S[s]:.3g}", fontsize=8)
        ax.set(xticks=[], yticks=[], aspect="auto" if flat else "equal")
        ax.margins(0.12)
    fig.suptitle("top-activating configurations (red: up, dark: down)", fontsize=9)
    fig.tight_layout()
    return fig


def correlation_bars(view: FeatureView) -> plt.Figure:
    """Pearson r of the feature with every observable."""
    fig, ax = plt.subplots(figsize=(4.6, 0.3 * len(view.observables) + 1.2))
    ax.barh(np.arange(len(view.observables)), view.r_O, color=np.where(np.abs(view.r_O) >= 0.5, UP, "#7f8c8d"))
    ax.set(yticks=np.arange(len(view.observables)), yticklabels=view.observables, xlim=(-1, 1), xlabel="Pearson r",
           title="correlation with observables")
    ax.axvline(0, color="k", lw=0.5)
    ax.invert_yaxis()
    fig.tight_layout()
    return fig


def steering_figure(curve: SteeringCurve, observables: list[str] | None = None) -> plt.Figure:
    """Observables and relative energy deviation against steering strength; inadmissible points hollow."""
    names = observables or list(curve.observables)
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(3.6 * (len(names) + 1), 3.2))
    ok = curve.admissible_K
    panels = [(name, curve.observables[name], curve.observable_errors[name]) for name in names]
    panels.append(("(E − E₁)/|E₁|", curve.relative_deviation_K, curve.energy_errors_K / abs(curve.energy_reference)))
    for ax, (name, values_K, errors_K) in zip(axes, panels):
        ax.errorbar(curve.strengths_K[ok], values_K[ok], errors_K[ok], fmt="o-", ms=3, lw=1, color="C0")
        if (~ok).any():
            ax.plot(curve.strengths_K[~ok], values_K[~ok], "o", mfc="none", ms=4, color="#7f8c8d", label="ESS too low")
            ax.legend(fontsize=7)
        rho = f", ρ = {curve.spearman(name):+.2f}" if name in curve.observables else ""
        ax.set(xlabel=f"strength ({curve.mode})", title=f"{name}{rho}")
    axes[-1].axhline(0, color="k", lw=0.5)
    fig.suptitle(f"steering feature {curve.feature} at {curve.hook} ({'exact' if curve.exact else 'sampled'})", fontsize=9)
    fig.tight_layout()
    return fig


CONSTANT_COLUMNS = ("method", "feature", "mode", "hook", "unit")
"""Columns of a steering curve's frame that repeat one value (stated in the text instead)."""


def steering_table(curve: SteeringCurve) -> pd.DataFrame:
    """A steering curve's frame without the columns that repeat one value (and, for exact sums, without the
    error columns, which are all zero)."""
    frame = curve.to_frame()
    zero_errors = [c for c in frame if c.endswith("_err") and (frame[c] == 0).all()]
    return frame.drop(columns=[c for c in CONSTANT_COLUMNS if c in frame] + zero_errors)


def _strongest(view: FeatureView, n: int = 3) -> list[str]:
    """The (up to) ``n`` observables most correlated with the feature that the steering curve measured."""
    order = np.argsort(-np.abs(view.r_O), kind="stable")
    return [view.observables[o] for o in order if view.observables[o] in view.curve.observables][:n]


def feature_report(view: FeatureView, title: str, meta: list[str],
                   nav: list[tuple[str, str]] = (("../report.html", "← back to the run's report"),)) -> Report:
    """The page of one feature; ``nav`` links back to the run's report (relative to the feature's folder)."""
    correlations = pd.DataFrame({"observable": list(view.observables), "r": view.r_O, "abs_r": np.abs(view.r_O)})
    how = "Born-weighted over the enumerated basis" if view.weights_S is not None else "over samples of |ψ|²"
    sections = [
        Section("Activation", f"Distribution of the activation ({how}).",
                [Figure(activation_histogram(view), f"Histogram of feature {view.feature}'s activation where it is "
                        f"positive ({how}); the title gives how often it is active.")]),
        Section("Top-activating configurations", "The configurations on which this feature fires most.",
                [Figure(top_configurations(view), f"The {N_TOP} distinct configurations with the largest activation a "
                        "of this feature, each spin drawn at its lattice site (red: up, dark: down).")]),
        Section("Correlations", "Pearson r of the activation with each per-configuration observable.",
                [Figure(correlation_bars(view), "Pearson r of the activation with each observable; |r| ≥ 0.5 in red.")],
                [Table(correlations, "Correlation with each observable")]),
    ]
    if view.curve is not None:
        curve = view.curve
        sections.append(Section("Steering", "Observables and energy as the feature is steered (error term kept, so "
                                "strength 1 of a scale is the model itself). Hollow points: ESS/S below "
                                f"{curve.ess_threshold}, outside the admissible range. Energies in {curve.unit}.",
                                [Figure(steering_figure(curve, _strongest(view)),
                                        f"The observables most correlated with feature {view.feature} and the relative "
                                        f"energy deviation against the steering strength ({curve.mode}).")],
                                [Table(steering_table(curve), "Steering curve", curve.unit, significant={"energy": 6})]))
    return Report(f"{title}: feature {view.feature}", sections, meta, subtitle=view.label, nav=list(nav))


def write_dashboards(views: list[FeatureView], folder: Path, title: str, meta: list[str] | None = None) -> list[tuple[str, str]]:
    """Write one page per feature into ``folder``, each linking back to ``../report.html``; returns
    (address relative to ``folder``'s parent, label) links."""
    if not views:
        raise PhyslensError("no features given; pass at least one FeatureView")
    folder = Path(folder)
    links = []
    for view in views:
        feature_report(view, title, list(meta or [])).write(folder / view.filename)
        links.append((f"{folder.name}/{view.filename}", f"feature {view.feature}: {view.label}"))
    return links
