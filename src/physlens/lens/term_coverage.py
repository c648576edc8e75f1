"""Which interaction terms of a Hamiltonian the surviving filters of a pruned first layer still span.

A first-layer hidden unit j of a pruned network reads the sites its mask column keeps: its support. A K-site
interaction term (a bond of the TFIM, K = 2; a plaquette of the toric code, K = 4) can enter a unit's
pre-activation as a product only when all its sites are in that unit's support; a term no unit spans is left to what
narrower filters and the output can do. For a pruned network, ``term_coverage(keep_NM, terms_EK)`` counts the units
that span each term and the sizes of all supports, so that a pruning curve can be read against the Hamiltonian's
terms (which term loses its last filter, and when). Pure NumPy on the mask and a list of terms: the lattice enters
as data.

Usage::

    coverage = term_coverage(keep_NM, system.bonds)     # keep_NM: (N sites, M units), terms: (E, K)
    coverage.n_covered, coverage.uncovered, coverage.to_row()
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from physlens.errors import PhyslensError


@dataclass(frozen=True)
class TermCoverage:
    """The interaction terms a pruned first layer spans.

    Attributes:
        terms_EK: the terms, each the K sites it acts on, shape ``(E, K)``, site indices.
        units_per_term_E: number of hidden units whose support holds every site of each term, shape ``(E,)``.
        support_M: number of kept weights (sites read) of each hidden unit, shape ``(M,)``.
        on_terms_M: whether each unit's support is exactly the sites of one term, shape ``(M,)``.
    """

    terms_EK: np.ndarray
    units_per_term_E: np.ndarray
    support_M: np.ndarray
    on_terms_M: np.ndarray

    @property
    def n_covered(self) -> int:
        """Number of terms spanned by at least one unit."""
        return int((self.units_per_term_E > 0).sum())

    @property
    def uncovered(self) -> list[tuple[int, ...]]:
        """The terms no unit spans, each as the tuple of its sites."""
        return [tuple(int(i) for i in term) for term in self.terms_EK[self.units_per_term_E == 0]]

    def to_row(self) -> dict:
        """One row: ``terms``, ``terms_covered``, ``units_alive`` and the alive units by support, a partition:
        exactly one term's sites (``term_units``), and of the rest one site (``single_site_units``), two sites
        (``other_pair_units``) and more than two (``wider_units``)."""
        off = ~self.on_terms_M
        return {"terms": len(self.terms_EK), "terms_covered": self.n_covered,
                "units_alive": int((self.support_M > 0).sum()), "term_units": int(self.on_terms_M.sum()),
                "single_site_units": int(((self.support_M == 1) & off).sum()),
                "other_pair_units": int(((self.support_M == 2) & off).sum()),
                "wider_units": int(((self.support_M > 2) & off).sum())}


def term_coverage(keep_NM: np.ndarray, terms_EK: np.ndarray) -> TermCoverage:
    """The interaction terms spanned by the units of a first-layer mask.

    Args:
        keep_NM: the first layer's mask (or kernel; nonzero = kept), shape ``(N, M)``: sites by hidden units.
        terms_EK: the Hamiltonian's K-site terms (bonds: K = 2; plaquettes: K = 4), shape ``(E, K)``, indices in
            ``[0, N)``.
    """
    support_NM = np.asarray(keep_NM) != 0
    terms_EK = np.asarray(terms_EK, dtype=int)
    if support_NM.ndim != 2 or terms_EK.ndim != 2 or (
            terms_EK.size and not (0 <= terms_EK.min() and terms_EK.max() < support_NM.shape[0])):
        raise PhyslensError(f"need a mask of shape (N, M) and terms of shape (E, K) with sites in [0, N); got mask "
                            f"{support_NM.shape}, terms {terms_EK.shape} spanning "
                            f"{terms_EK.min(initial=0)}…{terms_EK.max(initial=0)}")
    spans_EM = support_NM[terms_EK].all(axis=1)
    support_M = support_NM.sum(axis=0)
    on_terms_M = (support_M == terms_EK.shape[1]) & spans_EM.any(axis=0)
    return TermCoverage(terms_EK, spans_EM.sum(axis=1), support_M, on_terms_M)
