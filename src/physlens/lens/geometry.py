"""Representation geometry: PCA, PC truncation, latent topography, PC ↔ term matching.

The principal-component tools used to reproduce Kitouni et al. 2024, "From Neurons to
Neutrons: A Case Study in Interpretability" (arXiv:2405.17425): principal components of
an embedding table or an activation matrix, how many of them a readout needs, what the
model predicts across a plane of PC space, and which reference term each PC resembles.
Physics enters only as arrays and callables. Orderedness and the parity split live in
``physlens.lens.index_structure``, the helix fit in ``physlens.lens.helix``::

    emb = pca(emb_TD)                                   # rows indexed by Z, say
    curve = truncation_curve(acts_BD, readout, targets_B)
    topo = latent_topography(emb, predict_from_row, pcs=(0, 1))
    match = match_terms(pca(acts_BD).projections_BK[:, :4], {"volume": vol_B, "pairing": pair_B})
    match.best_frame()

Every analysis returns a frozen dataclass of NumPy float64 arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import jax
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from physlens.errors import PhyslensError


def as_matrix(X: ArrayLike, name: str, min_rows: int = 2) -> np.ndarray:
    """``X`` as a finite float64 ``(rows, columns)`` array, else ``PhyslensError`` naming ``name``."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < min_rows or X.shape[1] < 1:
        raise PhyslensError(f"{name} has shape {X.shape}; allowed: a 2-D array with at least {min_rows} rows")
    if not np.all(np.isfinite(X)):
        raise PhyslensError(f"{name} contains NaN or inf; allowed: finite values only")
    return X


@dataclass(frozen=True)
class PCA:
    """Principal components of a matrix ``X_BD`` (rows are samples).

    Attributes:
        mean_D: the column mean that was subtracted.
        components_KD: unit principal axes as rows, by decreasing variance,
            ``K = min(B, D)``; each row's largest-|entry| component is positive
            (the first such entry on a tie).
        singular_values_K: singular values of the centred matrix.
        explained_variance_K: variance along each axis, ``s² / (B − 1)`` (units of X²).
        explained_variance_ratio_K: ``s² / Σ s²`` (sums to 1 unless X is constant).
        projections_BK: coordinates of each row, ``(X − mean) @ components.T``.
    """

    mean_D: np.ndarray
    components_KD: np.ndarray
    singular_values_K: np.ndarray
    explained_variance_K: np.ndarray
    explained_variance_ratio_K: np.ndarray
    projections_BK: np.ndarray

    def transform(self, X_BD: ArrayLike) -> np.ndarray:
        """PC coordinates ``(B, K)`` of rows ``X_BD`` (same units as X)."""
        return (np.asarray(X_BD, dtype=np.float64) - self.mean_D) @ self.components_KD.T

    def inverse_transform(self, Z_BK: ArrayLike) -> np.ndarray:
        """Rows ``(B, D)`` with PC coordinates ``Z_BK`` (``k ≤ K`` leading PCs)."""
        Z_BK = np.asarray(Z_BK, dtype=np.float64)
        return self.mean_D + Z_BK @ self.components_KD[: Z_BK.shape[-1]]

    def to_frame(self) -> pd.DataFrame:
        """One row per PC: variance, ratio and cumulative ratio."""
        return pd.DataFrame(
            {
                "explained_variance": self.explained_variance_K,
                "explained_variance_ratio": self.explained_variance_ratio_K,
                "cumulative_ratio": np.cumsum(self.explained_variance_ratio_K),
            },
            index=pd.RangeIndex(len(self.explained_variance_K), name="pc"),
        )


def pca(X_BD: ArrayLike) -> PCA:
    """PCA of ``X_BD`` (B samples ≥ 2, D features) by SVD of the column-centred matrix.

    Signs are fixed so the largest-|loading| entry of every component is positive,
    which makes the result independent of the SVD routine and of ``X → −X``
    up to the sign of the projections. Units of X carry to projections.
    """
    X_BD = as_matrix(X_BD, "X_BD")
    mean_D = X_BD.mean(axis=0)
    _, s_K, Vt_KD = np.linalg.svd(X_BD - mean_D, full_matrices=False)
    lead_K = np.argmax(np.abs(Vt_KD), axis=1)
    Vt_KD = Vt_KD * np.sign(Vt_KD[np.arange(len(s_K)), lead_K])[:, None]
    total = np.sum(s_K**2)
    return PCA(
        mean_D=mean_D,
        components_KD=Vt_KD,
        singular_values_K=s_K,
        explained_variance_K=s_K**2 / (X_BD.shape[0] - 1),
        explained_variance_ratio_K=s_K**2 / total if total > 0 else np.zeros_like(s_K),
        projections_BK=(X_BD - mean_D) @ Vt_KD.T,
    )


@dataclass(frozen=True)
class TruncationCurve:
    """Readout error when activations are projected onto their leading PCs.

    Attributes:
        ks_K: numbers of leading PCs kept, ascending (the projection keeps the mean).
        rms_K: RMS error against the targets at each k (units of the predictions).
        rms_full: RMS error of the untouched predictions.
        cumulative_ratio_K: variance ratio explained by the first k PCs.
        preds_KB: predictions at each k, shape ``(K, B, ...)``.
        preds_full_B: untouched predictions, shape ``(B, ...)``.
    """

    ks_K: np.ndarray
    rms_K: np.ndarray
    rms_full: float
    cumulative_ratio_K: np.ndarray
    preds_KB: np.ndarray
    preds_full_B: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """One row per k: RMS error and cumulative explained variance ratio."""
        return pd.DataFrame(
            {"rms": self.rms_K, "cumulative_ratio": self.cumulative_ratio_K},
            index=pd.Index(self.ks_K, name="k"),
        )


def _rms(preds, targets, mask) -> np.ndarray:
    err2 = np.where(mask, (preds - targets) ** 2, 0.0)
    axes = tuple(range(err2.ndim - mask.ndim, err2.ndim))
    return np.sqrt(err2.sum(axis=axes) / mask.sum())


def truncation_curve(
    acts_BD: ArrayLike,
    readout: Callable,
    targets_B: ArrayLike,
    *,
    ks: Sequence[int] | None = None,
    basis: PCA | None = None,
) -> TruncationCurve:
    """Prediction error with ``acts_BD`` projected onto their first k PCs, for each k.

    ``acts_k = mean + (acts − mean) Vₖᵀ Vₖ`` with Vₖ the first k components of
    ``basis`` (default: ``pca(acts_BD)``); with every component kept this is the
    identity, so the last point reproduces the untouched predictions to float
    precision. ``readout(acts_ND) -> preds_N...`` must act row-wise: it is called once
    on all truncations stacked, ``(len(ks)·B, D)``. ``targets_B`` has the predictions'
    shape ``(B, ...)``; NaN targets are left out of the RMS. ``ks`` defaults to 1..K;
    fewer ks cost less memory (the stacked activations hold ``len(ks)·B·D`` floats).
    """
    acts_BD = as_matrix(acts_BD, "acts_BD")
    basis = pca(acts_BD) if basis is None else basis
    B, D = acts_BD.shape
    K = basis.components_KD.shape[0]
    if basis.mean_D.shape != (D,):
        raise PhyslensError(f"basis has width {basis.mean_D.shape[0]} but acts_BD has D={D}; allowed: equal widths")
    ks_K = np.arange(1, K + 1) if ks is None else np.asarray(ks, dtype=int)
    if ks_K.ndim != 1 or ks_K.size == 0 or ks_K.min() < 1 or ks_K.max() > K:
        raise PhyslensError(f"ks={ks_K.tolist()} out of range; allowed: a non-empty list of integers in 1..{K}")
    targets_B = np.asarray(targets_B, dtype=np.float64)
    preds_full_B = np.asarray(readout(acts_BD), dtype=np.float64)
    if preds_full_B.shape != targets_B.shape or preds_full_B.shape[:1] != (B,):
        raise PhyslensError(
            f"readout gives shape {preds_full_B.shape}, targets have {targets_B.shape}; "
            f"allowed: equal shapes (B={B}, ...)"
        )
    Z_BK = basis.transform(acts_BD)
    keep_nK = (np.arange(K)[None, :] < ks_K[:, None]).astype(np.float64)
    acts_nBD = basis.mean_D + np.einsum("bj,nj,jd->nbd", Z_BK, keep_nK, basis.components_KD)
    preds_KB = np.asarray(readout(acts_nBD.reshape(-1, D)), dtype=np.float64).reshape((len(ks_K),) + targets_B.shape)
    mask = np.isfinite(targets_B)
    if not mask.any():
        raise PhyslensError("targets_B has no finite entry; allowed: at least one finite target")
    return TruncationCurve(
        ks_K=ks_K,
        rms_K=_rms(preds_KB, targets_B, mask),
        rms_full=float(_rms(preds_full_B, targets_B, mask)),
        cumulative_ratio_K=np.cumsum(basis.explained_variance_ratio_K)[ks_K - 1],
        preds_KB=preds_KB,
        preds_full_B=preds_full_B,
    )


@dataclass(frozen=True)
class Topography:
    """A model's prediction over a plane spanned by two PCs of an embedding table.

    Attributes:
        pcs: the two PC indices ``(i, j)`` spanning the plane.
        coords_i_G: grid coordinates along PC i (units of the embedding).
        coords_j_H: grid coordinates along PC j.
        values_GH: ``predict(mean + c_i·pc_i + c_j·pc_j)`` at ``(coords_i[g], coords_j[h])``.
        data_coords_B2: the table rows' own coordinates on the two PCs, for overlays.
    """

    pcs: tuple[int, int]
    coords_i_G: np.ndarray
    coords_j_H: np.ndarray
    values_GH: np.ndarray
    data_coords_B2: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """Long form: one row per grid point with both coordinates and the value."""
        ci, cj = np.meshgrid(self.coords_i_G, self.coords_j_H, indexing="ij")
        i, j = self.pcs
        return pd.DataFrame({f"pc{i}": ci.ravel(), f"pc{j}": cj.ravel(), "value": self.values_GH.ravel()})


def latent_topography(
    basis: PCA,
    predict: Callable,
    *,
    pcs: tuple[int, int] = (0, 1),
    coords: tuple[ArrayLike, ArrayLike] | None = None,
    n: int = 41,
    margin: float = 0.1,
    batched: bool = False,
) -> Topography:
    """Predictions with an embedding row replaced by points of a PC plane.

    Every grid point is the row ``mean + c_i·pc_i + c_j·pc_j``: PCs other than i and j
    sit at their mean coordinate, which is 0 for a centred PCA. ``predict(row_D) ->
    scalar`` is mapped with ``jax.vmap``; with ``batched=True`` it is called once as
    ``predict(rows_ND) -> values_N`` instead (any NumPy function). The grid is
    ``coords`` if given, else ``n`` points per axis spanning the table's own range on
    each PC widened by ``margin`` of that range on both sides.
    """
    K = basis.components_KD.shape[0]
    i, j = (int(p) for p in pcs)
    if not (0 <= i < K and 0 <= j < K and i != j):
        raise PhyslensError(f"pcs={tuple(pcs)} invalid; allowed: two distinct indices in 0..{K - 1}")
    data_B2 = basis.projections_BK[:, [i, j]]
    if coords is None:
        if n < 2:
            raise PhyslensError(f"n={n} too small; allowed: n >= 2 grid points per axis")
        lo, hi = data_B2.min(axis=0), data_B2.max(axis=0)
        pad = margin * (hi - lo)
        coords = (np.linspace(lo[0] - pad[0], hi[0] + pad[0], n), np.linspace(lo[1] - pad[1], hi[1] + pad[1], n))
    ci_G, cj_H = (np.asarray(c, dtype=np.float64) for c in coords)
    if ci_G.ndim != 1 or cj_H.ndim != 1 or ci_G.size == 0 or cj_H.size == 0:
        raise PhyslensError("coords must be two non-empty 1-D arrays; allowed: (coords_i_G, coords_j_H)")
    plane_GH2 = np.stack(np.meshgrid(ci_G, cj_H, indexing="ij"), axis=-1)
    rows_ND = basis.mean_D + plane_GH2.reshape(-1, 2) @ basis.components_KD[[i, j]]
    values_N = predict(rows_ND) if batched else jax.vmap(predict)(rows_ND)
    values_N = np.asarray(values_N, dtype=np.float64)
    if values_N.shape != (rows_ND.shape[0],):
        raise PhyslensError(f"predict gave shape {values_N.shape} for {len(rows_ND)} rows; allowed: one scalar per row")
    return Topography(
        pcs=(i, j),
        coords_i_G=ci_G,
        coords_j_H=cj_H,
        values_GH=values_N.reshape(ci_G.size, cj_H.size),
        data_coords_B2=data_B2,
    )


@dataclass(frozen=True)
class TermMatch:
    """Cosine similarity between features (e.g. PC maps over samples) and named terms.

    Attributes:
        feature_names: one name per feature (``F``).
        term_names: one name per reference term (``T``), in the order given.
        similarity_FT: cosine similarity of every feature with every term, in [−1, 1];
            Pearson correlation when centred.
        best_term_F: per feature, the index of the term with the largest ``|cos|``
            (the first one on a tie).
        best_cos_F: the signed cosine of that best match.
        centred: whether features and terms were centred over samples first.
    """

    feature_names: tuple[str, ...]
    term_names: tuple[str, ...]
    similarity_FT: np.ndarray
    best_term_F: np.ndarray
    best_cos_F: np.ndarray
    centred: bool

    def to_frame(self) -> pd.DataFrame:
        """The full similarity table: features as rows, terms as columns."""
        return pd.DataFrame(
            self.similarity_FT,
            index=pd.Index(self.feature_names, name="feature"),
            columns=pd.Index(self.term_names, name="term"),
        )

    def best_frame(self) -> pd.DataFrame:
        """One row per feature: its best-matching term and the signed cosine."""
        return pd.DataFrame(
            {"term": [self.term_names[t] for t in self.best_term_F], "cos": self.best_cos_F},
            index=pd.Index(self.feature_names, name="feature"),
        )


def match_terms(
    features_SF: ArrayLike,
    terms: Mapping[str, ArrayLike],
    *,
    centre: bool = True,
    feature_names: Sequence[str] | None = None,
) -> TermMatch:
    """Cosine similarity of each feature column with each named reference vector.

    ``features_SF`` holds F features as columns over S samples (for PCs of activations
    over nuclei: ``pca(acts_BD).projections_BK[:, :F]``); ``terms`` maps a name to a
    vector of length S over the same samples, in the same order. With ``centre`` both
    are centred over samples first, so the similarity is Pearson's r and insensitive
    to constant offsets; either way it is invariant to each vector's scale and units.
    ``feature_names`` defaults to ``F0, F1, ...``. A vector that is zero (constant when
    centred, to 1e-12 of its norm) raises ``PhyslensError``.
    """
    features_SF = as_matrix(features_SF, "features_SF")
    S, F = features_SF.shape
    names = tuple(f"F{f}" for f in range(F)) if feature_names is None else tuple(feature_names)
    if len(names) != F:
        raise PhyslensError(f"{len(names)} feature names for {F} features; allowed: one name per column")
    if not terms:
        raise PhyslensError("no reference terms given; allowed: a mapping name -> vector of length S")
    for name, v in terms.items():
        if np.shape(v) != (S,):
            raise PhyslensError(f"term {name!r} has shape {np.shape(v)}; allowed: a vector of the {S} samples")
    terms_ST = as_matrix(np.stack([np.asarray(v, dtype=np.float64) for v in terms.values()], axis=1), "terms")
    raw_F, raw_T = np.linalg.norm(features_SF, axis=0), np.linalg.norm(terms_ST, axis=0)
    if centre:
        features_SF = features_SF - features_SF.mean(axis=0)
        terms_ST = terms_ST - terms_ST.mean(axis=0)
    norm_F, norm_T = np.linalg.norm(features_SF, axis=0), np.linalg.norm(terms_ST, axis=0)
    for kind, label, norm, raw in (("feature", names, norm_F, raw_F), ("term", tuple(terms), norm_T, raw_T)):
        zero = norm <= 1e-12 * raw
        if np.any(zero):
            raise PhyslensError(f"{kind} {label[int(np.argmax(zero))]!r} is a zero vector; allowed: non-zero vectors")
    sim_FT = np.clip(features_SF.T @ terms_ST / np.outer(norm_F, norm_T), -1.0, 1.0)
    best_F = np.argmax(np.abs(sim_FT), axis=1)
    return TermMatch(
        feature_names=names,
        term_names=tuple(terms),
        similarity_FT=sim_FT,
        best_term_F=best_F,
        best_cos_F=sim_FT[np.arange(F), best_F],
        centred=centre,
    )
