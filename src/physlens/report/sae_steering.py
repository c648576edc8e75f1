"""The report of the SAE-steering study on one run, drawn from its finished results.

``run_report`` takes the numbers of ``physlens.studies.sae_steering`` (summary row, SAE
training log, matching, steering curve) and the links to the feature dashboards, and
returns a ``Report``; it computes nothing::

    run_report("SAE steering: heisenberg 4x4", meta, study, links).write(out / "report.html")
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from physlens.report.dashboards import steering_figure  # noqa: E402
from physlens.report.html import Report, Section  # noqa: E402

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


def run_report(title: str, meta: list[str], study, links: list[tuple[str, str]]) -> Report:
    """The page of one run: summary, SAE training and quality, matching, steering, feature pages."""
    row = study.summary_row()
    unit, how = row["unit"], "exact sums over the basis" if study.exact else "Monte Carlo samples of |ψ|²"
    quality = pd.DataFrame([{k: row[k] for k in ("mse", "explained_variance", "l0", "dead_fraction", "dense_fraction",
                                                   "shrinkage", "energy_recovered", "fidelity")}])
    energies = pd.DataFrame([{"E_clean": row["e_clean"], "E_sae (spliced)": row["e_sae"], "E_zero (ablated)": row["e_zero"],
                              "ESS/S sae": row["ess_sae"], "ESS/S zero": row["ess_zero"], "unit": unit}])
    match = study.match
    top = np.argsort(-match.best_abs_r_F, kind="stable")[:N_TOP_FEATURES]
    curve = study.curve
    spearman = pd.DataFrame([{"observable": name, "spearman_rho": curve.spearman(name)} for name in curve.observables])
    return Report(title, [
        Section("Summary", f"All numbers from {how}. The steered feature is the one best matched to "
                f"{study.target}; the steering keeps the SAE error term, so strength 1 is the model itself.",
                tables=[pd.DataFrame([row])]),
        Section("SAE training", f"{row['arch']} SAE with {row['d_sae']} latents on {row['hook']} "
                f"({row['n_inputs']} training tokens distributed as |ψ|²).", [training_figure(study.train_log.to_frame())]),
        Section("SAE quality", "Reconstruction and sparsity on the training tokens; energy recovered "
                "(E_zero − E_sae)/(E_zero − E_clean) and fidelity |⟨ψ|ψ_sae⟩|² with the reconstruction spliced in "
                f"(no error term). Energies in {unit}; ESS/S of reweighted energies (1 when exact).",
                tables=[quality, energies]),
        Section("Feature ↔ observable matching", "Born-weighted Pearson r between each feature's token-mean "
                f"activation and each per-configuration observable; observables below |r| = {match.threshold} "
                f"are uncaptured: {', '.join(match.uncaptured) or 'none'}.",
                [correlation_map(match.r_FO, match.observables, top)],
                [match.observable_frame(), match.to_frame().iloc[top]]),
        Section("Steering", f"Feature {study.feature} ({match.label(study.feature)}) steered by {curve.mode}; "
                f"admissible range: ESS/S ≥ {curve.ess_threshold} (all points when exact). Max |ΔE|/|E| over it: "
                f"{curve.max_relative_deviation:.3g}.", [steering_figure(curve, [study.target])],
                [spearman, curve.to_frame()]),
        Section("Feature pages", "One page per feature: activation histogram, top-activating configurations, "
                "correlations, and the steering curve of the steered feature.", links=links),
    ], meta)
