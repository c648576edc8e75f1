"""Pseudo-data from the semi-empirical mass formula: every task's target as the fitted SEMF predicts it.

"From Neurons to Neutrons" (Kitouni et al., arXiv 2405.17425, Figs. 1 right, 14, 15) shows
its cleanest helix on a model trained on SEMF binding energies rather than on measured ones.
This module gives those targets for any set of nuclei: a binding-energy function B(Z, N)
(MeV) turns into every task of ``targets.TASKS`` by the mass relations AME2020 uses

    S_n  = B(Z, N) − B(Z, N−1)              S_p  = B(Z, N) − B(Z−1, N)
    S_2n = B(Z, N) − B(Z, N−2)              S_2p = B(Z, N) − B(Z−2, N)
    Q_α  = B(Z−2, N−2) + B(⁴He) − B(Z, N)
    Q_β⁻ = B(Z+1, N−1) − B(Z, N) + (m_n − m_H)
    Q_EC = B(Z−1, N+1) − B(Z, N) − (m_n − m_H)

(atomic masses, so the electron masses cancel). Applied to the measured B of AME2020 they
give AME2020's own tabulated values (``tests/nuclear/test_pseudo_data.py``), so on SEMF
pseudo-data every task is what the formula says.

Usage::

    formula = semf_binding(fit_semf(Z_K, N_K, B_K).coefficients)
    targets = task_targets(formula, Z_K, N_K)      # {"B": ..., "S_n": ..., ...}, MeV
    Z_G, N_G = chart_hull(Z_K, N_K)                # the full grid between each element's lightest and heaviest
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import numpy.typing as npt

from physlens.nuclear.terms import SEMF_COEFFICIENTS, semf_design

NEUTRON_MINUS_HYDROGEN_MEV = 0.78234693
"""m_n − m(¹H) in MeV: the AME2020 mass excesses 8071.31806 keV − 7288.971064 keV."""
HELIUM4_BINDING_MEV = 28.2956624
"""B(⁴He) in MeV (AME2020: 7073.9156 keV per nucleon × 4), used for Q_α of pseudo-data too."""

BindingFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""B(Z_K, N_K) in MeV for integer arrays of one shape; NaN where it is not defined."""


def semf_binding(coefficients: dict[str, float]) -> BindingFunction:
    """The SEMF with the given coefficients (MeV, as ``SemfFit.coefficients``) as a binding function.

    Defined for A = Z + N ≥ 1 with Z, N ≥ 0; NaN elsewhere (a neighbour below the chart)."""
    a_T = np.array([coefficients[c] for c in SEMF_COEFFICIENTS], dtype=np.float64)

    def binding(Z_K: np.ndarray, N_K: np.ndarray) -> np.ndarray:
        Z_K, N_K = np.asarray(Z_K, dtype=np.int64), np.asarray(N_K, dtype=np.int64)
        valid_K = (Z_K >= 0) & (N_K >= 0) & (Z_K + N_K >= 1)
        out_K = np.full(Z_K.shape, np.nan)
        out_K[valid_K] = semf_design(Z_K[valid_K], N_K[valid_K]) @ a_T
        return out_K

    return binding


def task_targets(binding: BindingFunction, Z: npt.ArrayLike, N: npt.ArrayLike) -> dict[str, np.ndarray]:
    """Every task of ``targets.TASKS`` for nuclei (Z_K, N_K) from the binding function, MeV (Z, N: counts).

    A value whose neighbour the function does not define is NaN."""
    Z_K, N_K = np.asarray(Z, dtype=np.int64), np.asarray(N, dtype=np.int64)
    B_K = binding(Z_K, N_K)
    q = NEUTRON_MINUS_HYDROGEN_MEV
    return {
        "B": B_K,
        "S_n": B_K - binding(Z_K, N_K - 1),
        "S_p": B_K - binding(Z_K - 1, N_K),
        "S_2n": B_K - binding(Z_K, N_K - 2),
        "S_2p": B_K - binding(Z_K - 2, N_K),
        "Q_alpha": binding(Z_K - 2, N_K - 2) + HELIUM4_BINDING_MEV - B_K,
        "Q_beta_minus": binding(Z_K + 1, N_K - 1) - B_K + q,
        "Q_EC": binding(Z_K - 1, N_K + 1) - B_K - q,
        "Z": Z_K.astype(np.float64),
        "N": N_K.astype(np.float64),
    }


def table_binding(Z: npt.ArrayLike, N: npt.ArrayLike, binding_MeV: npt.ArrayLike) -> BindingFunction:
    """A binding function that looks B up in a table of nuclei (MeV); NaN for nuclei not in it."""
    lookup = {(int(z), int(n)): float(b) for z, n, b in zip(np.asarray(Z), np.asarray(N), np.asarray(binding_MeV))}

    def binding(Z_K: np.ndarray, N_K: np.ndarray) -> np.ndarray:
        return np.array([lookup.get((int(z), int(n)), np.nan) for z, n in zip(np.ravel(Z_K), np.ravel(N_K))],
                        dtype=np.float64).reshape(np.shape(Z_K))

    return binding


def chart_hull(Z: npt.ArrayLike, N: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The full grid of the chart a set of nuclei spans: for every proton number Z present, every N from
    its lightest to its heaviest isotope in the set (holes filled). Returns (Z_G, N_G), sorted by (Z, N)."""
    Z_K, N_K = np.asarray(Z, dtype=np.int64), np.asarray(N, dtype=np.int64)
    pairs = [(z, n) for z in np.unique(Z_K) for n in range(N_K[Z_K == z].min(), N_K[Z_K == z].max() + 1)]
    Z_G, N_G = (np.array(v, dtype=np.int64) for v in zip(*pairs))
    return Z_G, N_G
