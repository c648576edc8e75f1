"""What the surviving connections of a pruned one-hidden-layer NQS say about the Hamiltonian.

A hidden unit j of an FFNN reads the sites i with kept weights W_ij (its *filter*).
``unit_filters`` measures each filter's spatial extent (largest distance between two
of its sites, minimum image on a torus) against the Hamiltonian's interaction range
(longest bond). ``stabiliser_overlap`` compares each filter of a toric-code network
with the stars A_v and plaquettes B_p: the best Jaccard overlap with each kind, the
matching kind, and the parity of the weights on the matched stabiliser (how many of
its four weights are negative, and the sign of their product).

Usage::

    frame = unit_filters(kernel_NM, keep_NM, system).to_frame()
    overlap = stabiliser_overlap(kernel_NM, keep_NM, ToricCode(3)).to_frame()
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.quantum.systems import SpinSystem, ToricCode


def _box(system: SpinSystem) -> np.ndarray | None:
    """Periodic box lengths of the system's coordinates, or None for open boundaries."""
    if isinstance(system, ToricCode):
        return np.array([system.L, system.L], dtype=float)
    if getattr(system, "pbc", False):
        extent = np.ptp(system.coords, axis=0) + 1.0
        return extent
    return None


def _distances(coords_Nd: np.ndarray, box: np.ndarray | None) -> np.ndarray:
    diff_NNd = coords_Nd[:, None, :] - coords_Nd[None, :, :]
    if box is not None:
        diff_NNd = diff_NNd - box * np.round(diff_NNd / box)
    return np.sqrt(np.sum(diff_NNd**2, axis=-1))


def _check(kernel_NM: np.ndarray, keep_NM: np.ndarray, n_sites: int) -> tuple[np.ndarray, np.ndarray]:
    kernel_NM, keep_NM = np.asarray(kernel_NM, dtype=float), np.asarray(keep_NM, dtype=bool)
    if kernel_NM.shape != keep_NM.shape or kernel_NM.ndim != 2 or kernel_NM.shape[0] != n_sites:
        raise PhyslensError(f"kernel and keep must both be (N={n_sites}, M); got {kernel_NM.shape}, {keep_NM.shape}")
    return kernel_NM, keep_NM


@dataclass(frozen=True)
class FilterExtent:
    """Spatial extent of each hidden unit's surviving connections.

    Attributes:
        n_kept_M: surviving input connections of each unit.
        extent_M: largest distance between two surviving sites (lattice spacings; 0 for ≤ 1 site).
        interaction_range: longest bond of the Hamiltonian, same units.
    """

    n_kept_M: np.ndarray
    extent_M: np.ndarray
    interaction_range: float

    def to_frame(self) -> pd.DataFrame:
        """One row per hidden unit: ``unit``, ``n_kept``, ``extent`` (lattice spacings) and ``within_range``."""
        return pd.DataFrame({"unit": np.arange(self.n_kept_M.size), "n_kept": self.n_kept_M, "extent": self.extent_M,
                             "within_range": self.extent_M <= self.interaction_range + 1e-9})


def unit_filters(kernel_NM: np.ndarray, keep_NM: np.ndarray, system: SpinSystem) -> FilterExtent:
    """Extent of each unit's filter against the interaction range of ``system`` (kernel as in Flax: (N, M))."""
    kernel_NM, keep_NM = _check(kernel_NM, keep_NM, system.n_sites)
    dist_NN = _distances(system.coords, _box(system))
    bonds = system.bonds
    interaction_range = float(dist_NN[bonds[:, 0], bonds[:, 1]].max()) if bonds.size else 0.0
    extent = np.array([dist_NN[np.ix_(k, k)].max() if k.sum() > 1 else 0.0 for k in keep_NM.T])
    return FilterExtent(keep_NM.sum(axis=0), extent, interaction_range)


@dataclass(frozen=True)
class StabiliserOverlap:
    """Overlap of each unit's filter with the toric code's stars and plaquettes.

    Attributes:
        plaquette_M, star_M: best Jaccard overlap |F ∩ G|/|F ∪ G| with any plaquette / star.
        best_plaquette_M, best_star_M: index of that plaquette / star.
        kind_M: ``plaquette`` or ``star`` (the larger overlap, ties to plaquette), ``empty``.
        negative_M: number of negative kept weights on the matched stabiliser's four edges.
        sign_product_M: product of the signs of the weights on those edges (±1; 0 if one is pruned).
    """

    plaquette_M: np.ndarray
    star_M: np.ndarray
    best_plaquette_M: np.ndarray
    best_star_M: np.ndarray
    kind_M: np.ndarray
    negative_M: np.ndarray
    sign_product_M: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """One row per hidden unit: ``unit``, ``kind``, the best plaquette and star overlaps and their
        indices, ``negative_weights`` and ``sign_product``."""
        return pd.DataFrame({"unit": np.arange(self.kind_M.size), "kind": self.kind_M, "plaquette_overlap": self.plaquette_M,
                             "best_plaquette": self.best_plaquette_M, "star_overlap": self.star_M,
                             "best_star": self.best_star_M, "negative_weights": self.negative_M,
                             "sign_product": self.sign_product_M})


def _jaccard(keep_NM: np.ndarray, groups_G4: np.ndarray) -> np.ndarray:
    member_GN = np.zeros((groups_G4.shape[0], keep_NM.shape[0]), dtype=bool)
    member_GN[np.arange(groups_G4.shape[0])[:, None], groups_G4] = True
    inter_GM = member_GN.astype(int) @ keep_NM.astype(int)
    union_GM = member_GN.sum(axis=1)[:, None] + keep_NM.sum(axis=0)[None, :] - inter_GM
    return np.where(union_GM > 0, inter_GM / np.maximum(union_GM, 1), 0.0)


def stabiliser_overlap(kernel_NM: np.ndarray, keep_NM: np.ndarray, system: ToricCode) -> StabiliserOverlap:
    """Match every unit's surviving filter to the best plaquette and star of the toric code."""
    if not isinstance(system, ToricCode):
        raise PhyslensError(f"stabiliser overlap needs a toric-code system; got {system.kind}")
    kernel_NM, keep_NM = _check(kernel_NM, keep_NM, system.n_sites)
    plaq_PM, star_VM = _jaccard(keep_NM, system.plaquettes), _jaccard(keep_NM, system.stars)
    best_p, best_v = plaq_PM.argmax(axis=0), star_VM.argmax(axis=0)
    plaq_M, star_M = plaq_PM.max(axis=0), star_VM.max(axis=0)
    empty = keep_NM.sum(axis=0) == 0
    kind = np.where(empty, "empty", np.where(plaq_M >= star_M, "plaquette", "star"))
    group_M4 = np.where((kind == "star")[:, None], system.stars[best_v], system.plaquettes[best_p])
    units = np.arange(keep_NM.shape[1])[:, None]
    w_M4 = np.where(keep_NM[group_M4, units], kernel_NM[group_M4, units], 0.0)
    return StabiliserOverlap(plaq_M, star_M, best_p, best_v, kind, (w_M4 < 0).sum(axis=1),
                             np.prod(np.sign(w_M4), axis=1).astype(int))
