"""The report of the SAE-steering study on one run, drawn from its finished results.

``run_report`` takes the numbers of ``physlens.studies.sae_steering`` (summary row, SAE
training log, matching, steering curve) and the links to the feature dashboards, and
returns a ``Report``; it computes nothing::

    run_report("SAE steering: heisenberg 4x4", meta, study, links).write(out / "report.html")
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from physlens.report.dashboards import steering_figure, steering_table  # noqa: E402
from physlens.report.html import Figure, Report, Section  # noqa: E402
from physlens.report.tables import Table, quantities  # noqa: E402

N_TOP_FEATURES = 12


def training_figure(log: pd.DataFrame) -> plt.Figure:
    """Normalised MSE, L0 and dead fraction against the SAE training step."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3))
    for ax, column, title in zip(axes, ("mse", "l0", "dead_fraction"), ("normalised MSE", "L0", "dead fraction")):
        ax.plot(log.index, log[column], lw=1)
        ax.set(xlabel="step", title=title, yscale="log" if column == "mse" else "linear")
    fig.tight_layout()
    return fig


def correlation_map(r_FO: np.ndarray, observables: tuple[str, ...], features: np.ndarray) -> plt.Figure:
    """Pearson r of the listed features (rows) with every observable (columns)."""
    fig, ax = plt.subplots(figsize=(1.1 * len(observables) + 2.5, 0.32 * len(features) + 1.4))
    image = ax.imshow(r_FO[features], cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set(xticks=np.arange(len(observables)), xticklabels=observables, yticks=np.arange(len(features)),
           yticklabels=[str(f) for f in features], ylabel="feature", title="feature ↔ observable correlation")
    ax.tick_params(axis="x", rotation=30)
    fig.colorbar(image, ax=ax, label="Pearson r")
    fig.tight_layout()
    return fig


def probe_figure(control: Any) -> plt.Figure:
    """The target and |ΔE|/|E| against the strength along the feature's and the probe's direction."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    for (name, part), color in zip(control.frame.groupby("direction", sort=False), ("#c0392b", "#2980b9")):
        left.plot(part.relative_strength, part[control.target], marker="o", ms=3, color=color, label=name)
        right.plot(part.relative_strength, np.maximum(part.rel_energy_dev, 1e-16), marker="o", ms=3, color=color, label=name)
    right.axhline(2e-4, color="#777", ls="--", lw=0.8, label="|ΔE|/|E| = 2·10⁻⁴")
    left.set(xlabel="strength (units of the feature's mean activation)", ylabel=control.target)
    right.set(xlabel="strength (units of the feature's mean activation)", ylabel="|ΔE|/|E|", yscale="log")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def probe_section(control: Any) -> Section:
    """The feature against the linear-probe direction of the same norm."""
    return Section("Feature against linear probe", f"The steered feature's direction and the direction of the linear "
                   f"probe of {control.target} (r = {control.probe_r:.3f} on the token-mean activations), rescaled to "
                   "the same norm, added at the same strengths. The quiet range is where |ΔE|/|E| ≤ 2·10⁻⁴; the "
                   "direction that moves the target further inside it steers more cleanly.",
                   [Figure(probe_figure(control), f"{control.target} (left) and the relative energy deviation (right) "
                           "along the feature's and the probe's direction.")],
                   [Table(control.quiet, f"Quiet range and the change of {control.target} across it")])


def run_report(title: str, meta: list[str], study: Any, links: list[tuple[str, str]], config: dict | None = None,
               nav: list[tuple[str, str]] = (), control: Any = None) -> Report:
    """The page of one run: summary, SAE training and quality, matching, steering, the probe control (when given),
    feature pages.

    ``config`` (the study configuration) is shown as a table; ``nav`` links to the pages around this one.
    """
    row = study.summary_row()
    unit, how = row["unit"], "exact sums over the basis" if study.exact else "Monte Carlo samples of |ψ|²"
    quality = {k: row[k] for k in ("mse", "explained_variance", "l0", "dead_fraction", "dense_fraction", "shrinkage",
                                   "energy_recovered", "fidelity")}
    energies = {k: row[k] for k in ("e_clean", "e_sae", "e_zero", "ess_sae", "ess_zero")}
    match = study.match
    top = np.argsort(-match.best_abs_r_F, kind="stable")[:N_TOP_FEATURES]
    curve = study.curve
    spearman = pd.DataFrame([{"observable": name, "spearman_rho": curve.spearman(name)} for name in curve.observables])
    feature = f"feature {study.feature} ({match.label(study.feature)})"
    return Report(title, [
        Section("Summary", f"All numbers from {how}. The steered feature is the one best matched to "
                f"{study.target}; the steering keeps the SAE error term, so strength 1 is the model itself.",
                tables=[Table(quantities(row, unit), "Headline numbers", significant={"value": 6})]),
        Section("SAE training", f"{row['arch']} SAE with {row['d_sae']} latents on {row['hook']} "
                f"({row['n_inputs']} training tokens distributed as |ψ|²).",
                [Figure(training_figure(study.train_log.to_frame()), "Normalised reconstruction MSE (log scale), L0 "
                        "(active latents per token) and the fraction of dead latents against the SAE training step; "
                        f"a latent counts as dead there once silent for {row['dead_after_tokens']:,} training "
                        f"inputs (this training saw {row['training_inputs']:,} in all), "
                        "while the table below counts the latents silent on every training token.")]),
        Section("SAE quality", "Reconstruction and sparsity on the training tokens; energy recovered "
                "(E_zero − E_sae)/(E_zero − E_clean) and fidelity |⟨ψ|ψ_sae⟩|² with the reconstruction spliced in "
                f"(no error term). Energies in {unit}; ESS/S of reweighted energies (1 when exact).",
                tables=[Table(quantities(quality, unit), "Reconstruction and sparsity"),
                        Table(quantities(energies, unit), "Energies with the SAE spliced in and with the hook ablated",
                              significant={"value": 6})]),
        Section("Feature ↔ observable matching", "Born-weighted Pearson r between each feature's token-mean "
                f"activation and each per-configuration observable; observables below |r| = {match.threshold} "
                f"are uncaptured: {', '.join(match.uncaptured) or 'none'}.",
                [Figure(correlation_map(match.r_FO, match.observables, top),
                        f"Pearson r of the {len(top)} best-matched features (rows) with every observable (columns).")],
                [Table(match.observable_frame(), "Best feature per observable"),
                 Table(match.to_frame().iloc[top][["feature", "frequency", "best_observable", "r", "abs_r",
                                                   f"r[{study.target}]"]],
                       f"The {len(top)} best-matched features, with their r for the steering target {study.target} "
                       "(r with every observable: the map above and matching.csv)")]),
        Section("Steering", f"{feature[0].upper()}{feature[1:]} steered by {curve.mode} at {curve.hook}; "
                f"admissible range: ESS/S ≥ {curve.ess_threshold} (all points when exact). Max |ΔE|/|E| over it: "
                f"{curve.max_relative_deviation:.3g}. Energies in {unit}.",
                [Figure(steering_figure(curve, [study.target]),
                        f"{study.target} and the relative energy deviation (E − E₁)/|E₁| against the steering strength "
                        f"of {feature}; hollow points are outside the admissible range.")],
                [Table(spearman, "Rank correlation of each observable with the strength"),
                 Table(steering_table(curve), "Steering curve", unit, significant={"energy": 6})]),
        *([probe_section(control)] if control is not None else []),
        Section("Feature pages", "One page per feature: activation histogram, top-activating configurations, "
                "correlations, and the steering curve of the steered feature.", links=links),
    ], meta, config=config, nav=list(nav))
