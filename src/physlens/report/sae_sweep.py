"""The report of an SAE sweep: the Pareto figure (L0 against explained variance, coloured by the best |r|) and
the table of every SAE beside the linear-probe ceiling.

Draws the table of ``physlens.studies.sae_sweep.run_sweep``; computes nothing.

Usage::

    write_sweep_report(frame, "runs/sweep/report.html", meta=["exact: full sums over the basis"])
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from physlens.report.html import Figure, Report, Section  # noqa: E402
from physlens.report.labels import OBSERVABLES  # noqa: E402
from physlens.report.tables import Table  # noqa: E402

MARKERS = {"relu": "o", "topk": "s", "jumprelu": "^"}


def pareto_figure(frame: pd.DataFrame, target: str) -> plt.Figure:
    """L0 against explained variance of every SAE (marker: architecture), coloured by its best single-feature |r|
    with ``target``; one panel per hook."""
    hooks = list(dict.fromkeys(frame.hook))
    fig, axes = plt.subplots(1, len(hooks), figsize=(5.2 * len(hooks), 4.0), squeeze=False)
    column = f"best_abs_r[{target}]"
    for ax, hook in zip(axes[0], hooks):
        part = frame[frame.hook == hook]
        for arch, marker in MARKERS.items():
            rows = part[part.arch == arch]
            if len(rows):
                points = ax.scatter(rows.l0, rows.explained_variance, c=rows[column], cmap="viridis", vmin=0, vmax=1,
                                    marker=marker, s=42, edgecolors="k", linewidths=0.4, label=arch)
        ax.set(xscale="log", xlabel="L0: active latents per token", ylabel="explained variance", title=f"hook {hook}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, title="architecture", title_fontsize=7)
    fig.colorbar(points, ax=axes[0].tolist(), label=f"best single-feature |r| with {OBSERVABLES.get(target, target)}")
    return fig


def write_sweep_report(frame: pd.DataFrame, path: Path | str, meta: list[str] = ()) -> Path:
    """The sweep's page: the Pareto figure and the per-SAE table with the probe ceiling beside the best feature."""
    target = frame.target.iloc[0]
    best, ceiling = f"best_abs_r[{target}]", f"probe_ceiling_r[{target}]"
    columns = ["hook", "sae", "l0", "explained_variance", "dead_fraction", "energy_recovered", "fidelity", best,
               f"latent_probe_r[{target}]", ceiling, "split_n", "split_combined_r"]
    top = frame.loc[frame[best].idxmax()]
    text = (f"Best single feature: |r| = {top[best]:.3f} with {OBSERVABLES.get(target, target)} ({top.sae} at "
            f"{top.hook}); a linear read-out of the same raw activations reaches r = {top[ceiling]:.3f} (the ceiling of "
            f"linear directions: a feature, being non-linear, can exceed it). Split features "
            f"(|r| ≥ 0.5 with the target) and the r of their best linear combination are in the last two columns.")
    sections = [Section("Sparsity against reconstruction", text,
                        figures=[Figure(pareto_figure(frame, target), "Each SAE of the sweep: L0 (log) against "
                                        "explained variance, marker by architecture, colour by its best single "
                                        "feature's |r| with the target observable.")],
                        tables=[Table(frame[columns], "Every SAE: sparsity, reconstruction, energy recovered, "
                                      "fidelity, best feature |r|, linear probe on all latents and on the raw "
                                      "activations (the ceiling), split features")])]
    return Report("SAE sweep: sparsity, width and hook", sections, list(meta)).write(path)
