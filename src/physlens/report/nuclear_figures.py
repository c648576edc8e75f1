"""Figures of the nuclear analysis and study, drawn from finished results (never from live models).

Each function takes results (an ``EmbeddingGeometry``, a ``Topography``, tables) and
returns a matplotlib ``Figure``; ``physlens.report.nuclear`` embeds them in the reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from matplotlib.ticker import NullFormatter  # noqa: E402

from physlens.lens.geometry import Topography, TruncationCurve  # noqa: E402
from physlens.report.labels import NUCLEAR_TASKS  # noqa: E402

if TYPE_CHECKING:
    from physlens.nuclear.embeddings import EmbeddingGeometry


def embedding_pcs(geometry: EmbeddingGeometry) -> plt.Figure:
    """An embedding table's rows on PCs 0–1 and 1–2, coloured by their index, and PC0 against the index."""
    proj, idx, name = geometry.basis.projections_BK, geometry.index_T, geometry.name
    ratio = geometry.basis.explained_variance_ratio_K
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, (i, j) in zip(axes[:2], ((0, 1), (1, 2))):
        sc = ax.scatter(proj[:, i], proj[:, j], c=idx, cmap="viridis", s=14)
        ax.plot(proj[:, i], proj[:, j], color="0.8", lw=0.5, zorder=0)
        ax.set(xlabel=f"PC{i} ({ratio[i]:.0%})", ylabel=f"PC{j} ({ratio[j]:.0%})", title=f"{name} embedding")
    fig.colorbar(sc, ax=axes[1], label=name)
    even = idx % 2 == 0
    axes[2].plot(idx[even], proj[even, 0], "o", ms=3, label=f"even {name}")
    axes[2].plot(idx[~even], proj[~even, 0], "s", ms=3, label=f"odd {name}")
    axes[2].set(xlabel=name, ylabel="PC0", title=f"orderedness {geometry.order.spearman:.3f}, "
                                                 f"R_P {geometry.parity.ratio:.3f}")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


def helix(geometry: EmbeddingGeometry) -> plt.Figure:
    """The rows' coordinates on the helix PCs against the index, with the fitted helix."""
    h, idx = geometry.helix, geometry.index_T
    coords = geometry.basis.projections_BK[:, : geometry.helix_pcs]
    t_fine = np.linspace(idx.min(), idx.max(), 600)
    curve = h.points(t_fine)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for k in range(coords.shape[1]):
        axes[0].plot(idx, coords[:, k], "o", ms=3, color=f"C{k}", label=f"PC{k}")
        axes[0].plot(t_fine, curve[:, k], "-", lw=1, color=f"C{k}")
    axes[0].set(xlabel=geometry.name, ylabel="coordinate",
                title=f"helix fit: R²={h.r2:.3f}, period {1 / h.frequency:.2f}, R={h.radius:.3g}, P={h.pitch:.3g}")
    axes[0].legend(fontsize=8)
    axes[1].scatter(coords[:, 0], coords[:, 1], c=idx, cmap="viridis", s=14)
    axes[1].plot(curve[:, 0], curve[:, 1], "k-", lw=0.7)
    axes[1].set(xlabel="PC0", ylabel="PC1", title=f"{geometry.name} embedding and fitted helix")
    fig.tight_layout()
    return fig


def topography(topo: Topography, n_value: int, index_T: np.ndarray, readout: str = "B/A") -> plt.Figure:
    """The B readout (``readout``: B/A or B, MeV) over the plane of two Z-embedding PCs at fixed N, with the Z rows overlaid."""
    i, j = topo.pcs
    fig, ax = plt.subplots(figsize=(6, 4.6))
    mesh = ax.pcolormesh(topo.coords_i_G, topo.coords_j_H, topo.values_GH.T, cmap="magma", shading="auto")
    fig.colorbar(mesh, ax=ax, label=f"predicted {readout} [MeV]")
    ax.scatter(topo.data_coords_B2[:, 0], topo.data_coords_B2[:, 1], c=index_T, cmap="viridis", s=10,
               edgecolors="w", linewidths=0.3)
    ax.set(xlabel=f"Z-embedding PC{i}", ylabel=f"Z-embedding PC{j}", title=f"Latent topography at N = {n_value}")
    fig.tight_layout()
    return fig


def _nuclide_map(ax, Z_K, N_K, values_K, title: str) -> None:
    lim = np.nanmax(np.abs(values_K - np.nanmean(values_K)))
    ax.scatter(N_K, Z_K, c=values_K - np.nanmean(values_K), cmap="RdBu_r", vmin=-lim, vmax=lim, s=4, marker="s")
    ax.set(xlabel="N", ylabel="Z", title=title)


def pc_maps(nuclei: pd.DataFrame, pc_BK: np.ndarray, terms: dict[str, np.ndarray], best: pd.DataFrame,
            n_show: int = 4) -> plt.Figure:
    """Penultimate PCs as maps over (N, Z), each beside its best-matched physics term (both centred)."""
    n_show = min(n_show, len(best))
    fig, axes = plt.subplots(n_show, 2, figsize=(9, 3.2 * n_show), squeeze=False)
    Z_K, N_K = nuclei.Z.to_numpy(), nuclei.N.to_numpy()
    for k in range(n_show):
        term, cos = best.term.iloc[k], best.cos.iloc[k]
        _nuclide_map(axes[k, 0], Z_K, N_K, pc_BK[:, k], f"penultimate PC{k}")
        _nuclide_map(axes[k, 1], Z_K, N_K, np.sign(cos) * terms[term], f"{'−' if cos < 0 else ''}{term} (cos {cos:+.3f})")
    fig.tight_layout()
    return fig


def truncation(curves: dict[str, TruncationCurve], semf_rms: float) -> plt.Figure:
    """Binding-energy RMS against the number of PCs kept, per layer."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for hook, curve in curves.items():
        ax.semilogy(curve.ks_K, curve.rms_K, "o-", ms=3, label=hook)
    ax.axhline(next(iter(curves.values())).rms_full, color="k", lw=0.8, label="untouched model")
    ax.axhline(semf_rms, color="k", ls="--", lw=0.8, label="SEMF (fitted)")
    ax.set(xscale="log", xlabel="PCs kept k", ylabel="B RMS over all nuclei [MeV]", title="PC truncation per layer")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def study_structure(fractions: pd.DataFrame) -> plt.Figure:
    """Orderedness and R_P of the Z and N embeddings against the held-out B RMS, coloured by fraction."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for ax, (col, label) in zip(axes[:2], (("orderedness", "orderedness (|Spearman ρ| along PC0)"), ("R_P", "R_P"))):
        for which, marker in (("Z", "o"), ("N", "s")):
            sc = ax.scatter(fractions.val_rms_B, fractions[f"{col}_{which}"], c=fractions.fraction, cmap="viridis",
                            marker=marker, s=28, label=f"{which} embedding")
        ax.set(xscale="log", xlabel="held-out B RMS [MeV]", ylabel=label)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=8)
    fig.colorbar(sc, ax=axes[1], label="training fraction")
    grouped = fractions.groupby("fraction")
    axes[2].errorbar(grouped.val_rms_B.mean().index, grouped.val_rms_B.mean(), yerr=grouped.val_rms_B.std(),
                     fmt="o-", label="model")
    axes[2].plot(grouped.semf_val_rms_B.mean().index, grouped.semf_val_rms_B.mean(), "k--", label="SEMF (fitted)")
    axes[2].set(yscale="log", xlabel="training fraction", ylabel="held-out B RMS [MeV]", title="mean ± sd over seeds")
    axes[2].yaxis.set_minor_formatter(NullFormatter())
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


def single_vs_multi(tasks: pd.DataFrame) -> plt.Figure:
    """Held-out RMS per observable: single-task against multi-task models."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    x = np.arange(len(tasks))
    ax.bar(x - 0.2, tasks.single_val_rms_MeV.astype(float), 0.4, label="single-task")
    ax.bar(x + 0.2, tasks.multi_val_rms_MeV.astype(float), 0.4, label="multi-task")
    ax.set(xticks=x, xticklabels=[NUCLEAR_TASKS.get(t, t) for t in tasks.task], yscale="log", ylabel="held-out RMS [MeV]",
           title="Single- vs multi-task models")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
