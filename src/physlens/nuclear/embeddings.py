"""The Z and N embedding tables of a nuclear regressor as geometry: PCA, orderedness, parity split, helix.

Kitouni et al. ("From Neurons to Neutrons", arXiv 2405.17425) find the embeddings ordered
along their first PC, split by parity, and wound into a helix, which they fit where its
radius is constant (``HELIX_RANGES``). Everything here takes plain arrays of the run's
variables and is exact (no sampling)::

    geometry = embedding_geometry(embedding_table(variables, "Z", Z_T), Z_T, "Z")
    geometry.row()          # orderedness, R_P, helix R², radius, period, pitch, turns
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.lens.geometry import PCA, pca
from physlens.lens.helix import HelixFit, fit_helix
from physlens.lens.index_structure import Orderedness, ParitySplit, orderedness, parity_split

COLUMNS = {"Z": 0, "N": 1}
"""Embedding tables by name → the column of the model input (Z, N, task) that indexes them."""
HELIX_RANGES: dict[str, tuple[int, int]] = {"Z": (25, 80), "N": (40, 120)}
"""Index ranges where "From Neurons to Neutrons" (arXiv 2405.17425) fits its helix, so that the radius is
constant: Z ∈ [25, 80], N ∈ [40, 120] (inclusive)."""
MIN_RANGE_ROWS = 8
"""Fewest rows in range for a range helix fit (fewer: no fit)."""
SLOW_HELIX_MAX_FREQUENCY = 0.25
"""Highest frequency (turns per unit of Z or N) of the slow-helix fit: periods of 4 or more,
so that the even/odd zig-zag (period 2, the parity split) cannot pass for a helix."""


def embedding_table(variables: dict, which: str, index_T: np.ndarray) -> np.ndarray:
    """Rows ``index_T`` of the Z or N embedding table, shape (T, D)."""
    if which not in COLUMNS:
        raise PhyslensError(f"unknown embedding {which!r}; allowed: Z, N")
    return np.asarray(variables["params"][f"embed_{which}"]["embedding"])[np.asarray(index_T)]


def index_structure_row(variables: dict, nuclei: pd.DataFrame) -> dict:
    """Orderedness (|Spearman ρ| along PC0) and parity split R_P of the Z and N embeddings,
    over the Z and N values that occur in ``nuclei``."""
    row = {}
    for which in COLUMNS:
        index_T = np.unique(nuclei[which].to_numpy())
        emb_TD = embedding_table(variables, which, index_T)
        row[f"orderedness_{which}"] = orderedness(emb_TD, index_T).spearman
        row[f"R_P_{which}"] = parity_split(emb_TD, index_T).ratio
    return row


@dataclass(frozen=True)
class EmbeddingGeometry:
    """Geometry of one embedding table over the indices that occur in the data.

    Attributes:
        name: ``Z`` or ``N``.
        index_T: the proton (neutron) numbers of the rows.
        basis: PCA of the rows.
        order: orderedness along PC0.
        parity: parity split R_P (full embedding space).
        helix: helix fitted to the rows' coordinates on the first ``helix_pcs`` PCs, t = index.
        slow_helix: the same fit restricted to periods ≥ 1/``SLOW_HELIX_MAX_FREQUENCY``.
        helix_pcs: number of leading PCs the helix is fitted in.
        fit_range: the index range (inclusive) of ``range_helix``.
        range_helix: the slow-helix fit over the rows with index in ``fit_range`` only, in the same PC
            coordinates (None when fewer than ``MIN_RANGE_ROWS`` rows fall in it).
    """

    name: str
    index_T: np.ndarray
    basis: PCA
    order: Orderedness
    parity: ParitySplit
    helix: HelixFit
    slow_helix: HelixFit
    helix_pcs: int
    fit_range: tuple[int, int] | None = None
    range_helix: HelixFit | None = None

    def row(self) -> dict:
        """Headline numbers: orderedness, R_P, helix R², radius, period, pitch and turns over the index range
        (``slow_helix_*``: the same for the fit with period ≥ 4)."""
        n = self.name
        row = {f"orderedness_{n}": self.order.spearman, f"R_P_{n}": self.parity.ratio,
               f"helix_variance_{n}": float(self.basis.explained_variance_ratio_K[: self.helix_pcs].sum())}
        fits = [("helix", self.helix), ("slow_helix", self.slow_helix)]
        if self.range_helix is not None:
            fits.append(("range_helix", self.range_helix))
            row |= {f"range_helix_from_{n}": self.fit_range[0], f"range_helix_to_{n}": self.fit_range[1]}
        for label, h in fits:
            row |= {f"{label}_r2_{n}": h.r2, f"{label}_radius_{n}": h.radius, f"{label}_period_{n}": 1.0 / h.frequency,
                    f"{label}_pitch_{n}": h.pitch, f"{label}_turns_{n}": h.turns}
        return row


def _slow_freqs(t_T: np.ndarray) -> np.ndarray:
    span = float(np.ptp(t_T))
    return np.linspace(0.5 / span, SLOW_HELIX_MAX_FREQUENCY, max(64, int(8 * span * SLOW_HELIX_MAX_FREQUENCY)))


def embedding_geometry(emb_TD: np.ndarray, index_T: np.ndarray, name: str, helix_pcs: int = 3,
                       fit_range: tuple[int, int] | None = None) -> EmbeddingGeometry:
    """PCA, orderedness, parity split and helix of an embedding table ``emb_TD`` with row indices ``index_T``;
    ``fit_range`` (default ``HELIX_RANGES[name]``, the paper's) restricts one more slow-helix fit to the rows
    whose index lies in it (inclusive), in the PC coordinates of all rows."""
    basis = pca(emb_TD)
    coords_TP, t_T = basis.projections_BK[:, :helix_pcs], index_T.astype(np.float64)
    fit_range = fit_range if fit_range is not None else HELIX_RANGES.get(name)
    range_helix = None
    if fit_range is not None:
        if fit_range[0] >= fit_range[1]:
            raise PhyslensError(f"helix fit range must be (low, high) with low < high; got {fit_range}")
        inside_T = (t_T >= fit_range[0]) & (t_T <= fit_range[1])
        if inside_T.sum() >= MIN_RANGE_ROWS:
            range_helix = fit_helix(coords_TP[inside_T], t_T[inside_T], freqs_G=_slow_freqs(t_T[inside_T]))
    return EmbeddingGeometry(name, index_T, basis, orderedness(emb_TD, index_T), parity_split(emb_TD, index_T),
                             fit_helix(coords_TP, t_T), fit_helix(coords_TP, t_T, freqs_G=_slow_freqs(t_T)), helix_pcs,
                             fit_range, range_helix)


def embedding_geometries(variables: dict, nuclei: pd.DataFrame) -> dict[str, EmbeddingGeometry]:
    """``embedding_geometry`` of the Z and N tables over the Z and N values that occur in ``nuclei``."""
    return {which: embedding_geometry(embedding_table(variables, which, index_T), index_T, which)
            for which, index_T in ((w, np.unique(nuclei[w].to_numpy())) for w in COLUMNS)}
