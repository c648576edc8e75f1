"""How an embedding table encodes its integer index: orderedness along PC0 and parity split.

In Kitouni et al. 2024, "From Neurons to Neutrons" (arXiv:2405.17425), the rows of the
proton- and neutron-number embeddings are ordered by Z (N) along their first principal
component and fall apart into even and odd rows. Both are measured here on any table
whose rows carry an integer index; physics enters only as the table::

    orderedness(emb_TD).spearman            # 1.0: PC0 is monotone in the row index
    parity_split(emb_TD, index_T=Z_T).ratio  # ≈ 1: no parity split; larger: split

Each analysis returns a frozen dataclass with a ``to_frame()`` view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.spatial.distance import cdist, pdist
from scipy.stats import spearmanr

from physlens.errors import PhyslensError
from physlens.lens.geometry import as_matrix, pca


def _index(index_T: ArrayLike | None, T: int) -> np.ndarray:
    """``index_T`` (default ``0..T−1``) checked to be T distinct integers."""
    index_T = np.arange(T) if index_T is None else np.asarray(index_T)
    if index_T.shape != (T,) or not np.issubdtype(index_T.dtype, np.integer) or len(np.unique(index_T)) != T:
        raise PhyslensError(f"index_T must be {T} distinct integers, one per row; got shape {index_T.shape}")
    return index_T


@dataclass(frozen=True)
class Orderedness:
    """How monotonically an embedding's PC0 coordinate follows its index.

    Attributes:
        spearman: ``|ρ_s|``, Spearman's rank correlation between index and PC0
            coordinate (Spearman 1904, Am. J. Psychol. 15, 72; ties get mean ranks),
            in [0, 1]; 1 means PC0 is a strictly monotone function of the index.
        consecutive: ``max(n_up, n_down) / (T − 1)`` where n_up (n_down) counts
            consecutive rows, by index, whose PC0 coordinate rises (falls); in [0, 1].
        index_T: the index of each row, sorted ascending.
        pc0_T: the PC0 coordinate of each row in that order (units of the embedding).
    """

    spearman: float
    consecutive: float
    index_T: np.ndarray
    pc0_T: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """One row per embedding row: its index and PC0 coordinate."""
        return pd.DataFrame({"index": self.index_T, "pc0": self.pc0_T})


def orderedness(emb_TD: ArrayLike, index_T: ArrayLike | None = None) -> Orderedness:
    """Orderedness of an embedding table ``emb_TD`` along its first principal component.

    Both scores are invariant to the sign of PC0, as the PC's orientation is arbitrary.
    Kitouni et al. 2024 observe that PC0 of the Z and N embeddings orders the rows
    by Z and N. ``index_T`` (default ``0..T−1``) holds distinct integer indices.
    """
    emb_TD = as_matrix(emb_TD, "emb_TD", min_rows=3)
    index_T = _index(index_T, emb_TD.shape[0])
    order_T = np.argsort(index_T)
    index_T = index_T[order_T]
    pc0_T = pca(emb_TD).projections_BK[order_T, 0]
    step_T = np.diff(pc0_T)
    rho = spearmanr(index_T, pc0_T).statistic if np.ptp(pc0_T) > 0 else 0.0
    return Orderedness(
        spearman=float(abs(rho)),
        consecutive=float(max(np.sum(step_T > 0), np.sum(step_T < 0)) / step_T.size),
        index_T=index_T,
        pc0_T=pc0_T,
    )


@dataclass(frozen=True)
class ParitySplit:
    """Separation of the rows with even and odd index.

    Attributes:
        ratio: ``R_P = 2·d(even, odd) / (d(even, even) + d(odd, odd))``; about 1 when
            parity is not encoded, larger when the two classes sit apart.
        d_even_odd: mean Euclidean distance over all (even, odd) pairs of rows.
        d_even_even: mean distance over the unordered pairs of distinct even rows.
        d_odd_odd: the same over odd rows.
        n_even: number of even rows.
        n_odd: number of odd rows.
    """

    ratio: float
    d_even_odd: float
    d_even_even: float
    d_odd_odd: float
    n_even: int
    n_odd: int

    def to_frame(self) -> pd.DataFrame:
        """The 2×2 table of mean distances between and within the parity classes."""
        d = [[self.d_even_even, self.d_even_odd], [self.d_even_odd, self.d_odd_odd]]
        return pd.DataFrame(d, index=["even", "odd"], columns=["even", "odd"])


def parity_split(emb_TD: ArrayLike, index_T: ArrayLike | None = None, *, n_pcs: int | None = None) -> ParitySplit:
    """Parity split ratio ``R_P`` of an embedding table ``emb_TD`` (rows indexed by ``index_T``).

    With d(A, B) the mean pairwise Euclidean distance (units of the embedding) between
    the rows of classes A and B, over all |A|·|B| pairs when A ≠ B and over the
    |A|(|A|−1)/2 pairs of distinct rows when A = B,
    ``R_P = 2·d(even, odd) / (d(even, even) + d(odd, odd))``. Parity is that of
    ``index_T`` (default ``0..T−1``). With ``n_pcs`` the distances are measured in the
    first ``n_pcs`` PC coordinates only. Each class needs at least two rows.
    """
    emb_TD = as_matrix(emb_TD, "emb_TD", min_rows=4)
    even_T = _index(index_T, emb_TD.shape[0]) % 2 == 0
    if n_pcs is not None:
        basis = pca(emb_TD)
        if not 1 <= n_pcs <= basis.components_KD.shape[0]:
            raise PhyslensError(f"n_pcs={n_pcs} out of range; allowed: 1..{basis.components_KD.shape[0]} or None")
        emb_TD = basis.projections_BK[:, :n_pcs]
    even, odd = emb_TD[even_T], emb_TD[~even_T]
    if len(even) < 2 or len(odd) < 2:
        raise PhyslensError(f"{len(even)} even and {len(odd)} odd rows; allowed: at least 2 of each")
    d_eo, d_ee, d_oo = cdist(even, odd).mean(), pdist(even).mean(), pdist(odd).mean()
    if d_ee + d_oo == 0:
        raise PhyslensError("every parity class collapses to a point; allowed: rows with some spread within a class")
    return ParitySplit(
        ratio=float(2 * d_eo / (d_ee + d_oo)),
        d_even_odd=float(d_eo),
        d_even_even=float(d_ee),
        d_odd_odd=float(d_oo),
        n_even=len(even),
        n_odd=len(odd),
    )
