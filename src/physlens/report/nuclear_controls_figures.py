"""Figures of the nuclear controls: helix perturbations as predictions, structure over training, the width scan.

Each function takes finished tables (``physlens.studies.nuclear_controls.collect``,
``nuclear.analysis.perturb_helix``) and returns a matplotlib ``Figure``.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator, NullFormatter  # noqa: E402

STRUCTURE_PANELS = (
    (("orderedness_Z", "orderedness_N"), "orderedness (|Spearman ρ| along PC0)"),
    (("R_P_Z", "R_P_N"), "parity split R_P"),
    (("helix_r2_Z", "helix_r2_N"), "helix R² over the paper's range"),
    (("helix_turns_Z", "helix_turns_N"), "helix turns over the paper's range"),
    (("cos_volume", "cos_pairing", "cos_shell_P"), "best |cos| of a penultimate PC"),
)
"""Panels of the structure-over-training figure: columns of ``structure.frame`` and the axis label."""
NAMES = {"helix_r2_Z": "Z helix", "helix_r2_N": "N helix", "cos_shell_P": "shell term P", "cos_pairing": "pairing term",
         "cos_volume": "volume term (A)"}
"""Legend names of the width-scan columns."""


def helix_predictions(predictions: pd.DataFrame, measured: pd.DataFrame) -> plt.Figure:
    """Predicted B/A (MeV) against A with each embedding's helix redrawn (mean over the nuclei of each A), beside
    the measured values: one panel per embedding, one line per (parameter, factor)."""
    names = list(dict.fromkeys(predictions.embedding))
    fig, axes = plt.subplots(1, len(names), figsize=(6 * len(names), 4), sharey=True, squeeze=False)
    truth = measured.assign(BA=measured.B / (measured.Z + measured.N)).groupby(measured.Z + measured.N).BA.mean()
    for ax, name in zip(axes[0], names):
        ax.plot(truth.index, truth.to_numpy(), color="0.6", lw=3, label="target")
        for (param, factor), rows in predictions[predictions.embedding == name].groupby(["parameter", "factor"],
                                                                                         sort=False):
            A = rows.Z + rows.N
            mean = (rows.B_MeV / A).groupby(A).mean()
            style = {"color": "k", "lw": 1.2} if param == "none" else {"lw": 0.9}
            ax.plot(mean.index, mean.to_numpy(), label="as trained" if param == "none" else f"{param} × {factor:g}",
                    **style)
        ax.set(xlabel="mass number A", ylabel="B/A [MeV per nucleon]", title=f"{name} helix redrawn")
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def structure_over_training(structure: pd.DataFrame) -> plt.Figure:
    """Structure measures against training step, one line style per run (the paper's Fig. 16)."""
    fig, grid = plt.subplots(2, 3, figsize=(14, 7.5))
    axes = grid.ravel()[: len(STRUCTURE_PANELS)]
    for ax in grid.ravel()[len(STRUCTURE_PANELS):]:
        ax.set_axis_off()
    styles = dict(zip(dict.fromkeys(structure.run), ("-", "--", ":", "-.")))
    for ax, (columns, label) in zip(axes, STRUCTURE_PANELS):
        for column, colour in zip(columns, plt.rcParams["axes.prop_cycle"].by_key()["color"]):
            for run, rows in structure.groupby("run", sort=False):
                ax.plot(rows.step, rows[column], styles[run], color=colour, lw=1.1,
                        label=f"{column[4:].replace('_', ' ') if column.startswith('cos') else column[-1]}, {run}")
        ax.set(xlabel="training step", ylabel=label)
        ax.xaxis.set_major_locator(MaxNLocator(5))
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def width_scan(widths: pd.DataFrame, extrapolation: pd.DataFrame) -> plt.Figure:
    """Helix R², shell-term match and held-out B RMS against width, with the log-linear trends, over the widths
    that trained (column ``trained``); the others are named in the title."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    untrained = widths[~widths.trained]
    widths = widths[widths.trained]
    w_W = widths.width.to_numpy(float)
    grid = np.geomspace(w_W.min(), w_W.max() * 8, 50)
    for ax, columns, label in ((axes[0], ("helix_r2_Z", "helix_r2_N"), "helix R² over the paper's range"),
                               (axes[1], ("cos_shell_P", "cos_pairing", "cos_volume"), "best |cos| of a penultimate PC")):
        for column in columns:
            line, = ax.plot(w_W, widths[column], "o", label=NAMES.get(column, column))
            b, a = np.polyfit(np.log2(w_W), widths[column].to_numpy(float), 1)
            ax.plot(grid, a + b * np.log2(grid), ":", color=line.get_color(), lw=0.9)
        for row in extrapolation.itertuples():
            if row.column in columns:
                ax.axhline(row.threshold, color="0.5", lw=0.6)
        ax.set(xscale="log", xlabel="width (dotted: log-linear trend)", ylabel=label, ylim=(0, 1.02))
        ax.legend(fontsize=7)
    axes[2].plot(w_W, widths.val_rms_B, "o-", label="held-out")
    axes[2].plot(w_W, widths.train_rms_B, "s--", label="training")
    title = f"after {int(widths.steps.iloc[0]):,} steps each"
    if len(untrained):
        title += "; not trained (left out): width " + ", ".join(str(int(w)) for w in untrained.width)
    axes[2].set(xscale="log", xlabel="width", ylabel="B RMS [MeV]", ylim=(0, None), title=title)
    axes[2].legend(fontsize=7)
    for ax in axes:
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(w_W if ax is axes[2] else [*w_W, 2048], [f"{w:g}" for w in (w_W if ax is axes[2] else [*w_W, 2048])])
    fig.tight_layout()
    return fig
