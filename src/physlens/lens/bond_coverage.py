"""Which interaction bonds of a Hamiltonian the surviving filters of a pruned first layer still span.

A first-layer hidden unit j of a pruned network reads the sites its mask column keeps: its support. A two-site
interaction term on the bond (i, k) can enter a unit's pre-activation as a product only when both sites are in that
unit's support; a bond no unit spans is left to what single-site filters and the output can do. For a pruned
network, ``bond_coverage(keep_NM, bonds_E2)`` counts the units that span each bond and the sizes of all supports,
so that a pruning curve can be read against the Hamiltonian's bonds (which bond loses its last filter, and when).
Pure NumPy on the mask and a list of bonds: the lattice enters as data.

Usage::

    coverage = bond_coverage(keep_NM, system.bonds)     # keep_NM: (N sites, M units), bonds: (E, 2)
    coverage.n_covered, coverage.uncovered, coverage.to_row()
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from physlens.errors import PhyslensError


@dataclass(frozen=True)
class BondCoverage:
    """The bonds a pruned first layer spans.

    Attributes:
        bonds_E2: the bonds (i, k), shape ``(E, 2)``, site indices.
        units_per_bond_E: number of hidden units whose support holds both sites of each bond, shape ``(E,)``.
        support_M: number of kept weights (sites read) of each hidden unit, shape ``(M,)``.
        on_bonds_M: whether each unit's support is exactly the two sites of a bond, shape ``(M,)``.
    """

    bonds_E2: np.ndarray
    units_per_bond_E: np.ndarray
    support_M: np.ndarray
    on_bonds_M: np.ndarray

    @property
    def n_covered(self) -> int:
        """Number of bonds spanned by at least one unit."""
        return int((self.units_per_bond_E > 0).sum())

    @property
    def uncovered(self) -> list[tuple[int, int]]:
        """The bonds no unit spans, as (i, k) pairs."""
        return [(int(i), int(k)) for i, k in self.bonds_E2[self.units_per_bond_E == 0]]

    def to_row(self) -> dict:
        """One row: ``bonds``, ``bonds_covered``, ``units_alive`` and the alive units by support: one site
        (``single_site_units``), exactly a bond's two sites (``bond_units``), two sites not a bond
        (``other_pair_units``) and more than two (``wider_units``)."""
        pairs = self.support_M == 2
        return {"bonds": len(self.bonds_E2), "bonds_covered": self.n_covered,
                "units_alive": int((self.support_M > 0).sum()), "single_site_units": int((self.support_M == 1).sum()),
                "bond_units": int(self.on_bonds_M.sum()), "other_pair_units": int((pairs & ~self.on_bonds_M).sum()),
                "wider_units": int((self.support_M > 2).sum())}


def bond_coverage(keep_NM: np.ndarray, bonds_E2: np.ndarray) -> BondCoverage:
    """The bonds spanned by the units of a first-layer mask.

    Args:
        keep_NM: the first layer's mask (or kernel; nonzero = kept), shape ``(N, M)``: sites by hidden units.
        bonds_E2: the Hamiltonian's two-site bonds, shape ``(E, 2)``, indices in ``[0, N)``.
    """
    support_NM = np.asarray(keep_NM) != 0
    bonds_E2 = np.asarray(bonds_E2, dtype=int).reshape(-1, 2)
    if support_NM.ndim != 2 or (bonds_E2.size and not (0 <= bonds_E2.min() and bonds_E2.max() < support_NM.shape[0])):
        raise PhyslensError(f"need a mask of shape (N, M) and bonds of sites in [0, N); got mask {support_NM.shape}, "
                            f"bonds spanning {bonds_E2.min(initial=0)}…{bonds_E2.max(initial=0)}")
    spans_EM = support_NM[bonds_E2[:, 0]] & support_NM[bonds_E2[:, 1]]
    support_M = support_NM.sum(axis=0)
    on_bonds_M = (support_M == 2) & spans_EM.any(axis=0)
    return BondCoverage(bonds_E2, spans_EM.sum(axis=1), support_M, on_bonds_M)
