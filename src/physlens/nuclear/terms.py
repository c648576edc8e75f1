"""Physics terms of nuclear binding: the semi-empirical mass formula and a shell correction.

Every term is a vector over a set of nuclei given by their proton and neutron numbers
``Z_K``, ``N_K`` (K nuclei). The semi-empirical mass formula (SEMF) reads, in MeV,

    B = a_V·A − a_S·A^(2/3) − a_C·Z(Z−1)/A^(1/3) − a_A·(N−Z)²/A + a_P·δ(A, Z),

with δ = +A^(−1/2) for even-even, −A^(−1/2) for odd-odd and 0 for odd-A nuclei. The
shell correction a1·P + a2·P² uses the valence factor P = ν_N·ν_Z/(ν_N + ν_Z), ν the
distance in nucleons to the nearest magic number of ``MAGIC_NUMBERS``, and is fitted to
what the SEMF leaves over. ``term_vectors`` hands every term, unsigned, to analyses that
compare network features with physics (they receive plain arrays, never this module).

Usage::

    from physlens.nuclear.data import load_ame2020

    table = load_ame2020(experimental_only=True, zmin=8, nmin=8)
    Z_K, N_K, B_K = table.Z.to_numpy(), table.N.to_numpy(), table.B.to_numpy() / 1000.0
    semf = fit_semf(Z_K, N_K, B_K)                    # semf.coefficients["a_V"] ≈ 15.7 MeV
    shell = fit_shell_correction(Z_K, N_K, semf.residuals)
    terms = term_vectors(Z_K, N_K)                     # {"volume": ..., "shell_P": ...}
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from physlens.errors import PhyslensError

MAGIC_NUMBERS: tuple[int, ...] = (2, 8, 20, 28, 50, 82, 126)
"""Magic numbers for the valence distance ν (the same for protons and neutrons)."""
SEMF_TERMS: tuple[str, ...] = ("volume", "surface", "coulomb", "asymmetry", "pairing")
"""Names of the SEMF term vectors, in the order of ``SEMF_COEFFICIENTS``."""
SEMF_COEFFICIENTS: tuple[str, ...] = ("a_V", "a_S", "a_C", "a_A", "a_P")
"""Names of the SEMF coefficients (MeV), one per term of ``SEMF_TERMS``."""
SEMF_SIGNS: tuple[int, ...] = (1, -1, -1, -1, 1)
"""Sign with which each (unsigned) term enters B, so that every coefficient is positive."""

IntArray = npt.ArrayLike


def _nuclei(Z: IntArray, N: IntArray) -> tuple[np.ndarray, np.ndarray]:
    """Validated 1-D integer arrays Z_K, N_K of equal length with A = Z + N ≥ 1."""
    Z_K, N_K = np.asarray(Z), np.asarray(N)
    if Z_K.ndim != 1 or Z_K.shape != N_K.shape:
        raise PhyslensError(f"Z and N must be 1-D arrays of one length, got shapes {Z_K.shape} and {N_K.shape}")
    for name, values in (("Z", Z_K), ("N", N_K)):
        if values.size and not np.array_equal(values, np.round(values)):
            raise PhyslensError(f"{name} must hold whole numbers of nucleons; got non-integer values")
    Z_K, N_K = Z_K.astype(np.int64), N_K.astype(np.int64)
    if (Z_K < 0).any() or (N_K < 0).any() or (Z_K + N_K < 1).any():
        raise PhyslensError("nucleon numbers must satisfy Z ≥ 0, N ≥ 0 and A = Z + N ≥ 1")
    return Z_K, N_K


def pairing_delta(Z: IntArray, N: IntArray) -> np.ndarray:
    """SEMF pairing term δ(A, Z) per nucleus, shape (K,), dimensionless.

    δ = +A^(−1/2) for even Z and even N, −A^(−1/2) for odd Z and odd N, 0 for odd A
    (the A^(−1/2) convention; texts using A^(−3/4) find a_P ≈ 34 MeV instead of ≈ 11 MeV).
    """
    Z_K, N_K = _nuclei(Z, N)
    sign_K = np.where((Z_K % 2 == 0) & (N_K % 2 == 0), 1.0, np.where((Z_K % 2 == 1) & (N_K % 2 == 1), -1.0, 0.0))
    return sign_K / np.sqrt(Z_K + N_K)


def semf_terms(Z: IntArray, N: IntArray) -> dict[str, np.ndarray]:
    """The five unsigned SEMF term vectors, each shape (K,), in nucleon-number units.

    ``volume`` = A, ``surface`` = A^(2/3), ``coulomb`` = Z(Z−1)/A^(1/3), ``asymmetry`` =
    (N−Z)²/A, ``pairing`` = δ(A, Z) (see ``pairing_delta``). B in MeV is
    Σ_t SEMF_SIGNS[t]·coefficient[t]·term[t].
    """
    Z_K, N_K = _nuclei(Z, N)
    A_K = (Z_K + N_K).astype(np.float64)
    return {
        "volume": A_K,
        "surface": A_K ** (2.0 / 3.0),
        "coulomb": Z_K * (Z_K - 1.0) / np.cbrt(A_K),
        "asymmetry": (N_K - Z_K) ** 2 / A_K,
        "pairing": pairing_delta(Z_K, N_K),
    }


def valence_distance(nucleons: IntArray) -> np.ndarray:
    """ν: distance in nucleons from each count to the nearest of ``MAGIC_NUMBERS``, shape (K,).

    Counts above 126 are measured from 126 (no larger magic number is assumed).
    """
    n_K = np.asarray(nucleons)
    if (n_K < 0).any() or not np.array_equal(n_K, np.round(n_K)):
        raise PhyslensError("nucleon counts must be non-negative whole numbers")
    magic_M = np.asarray(MAGIC_NUMBERS)
    return np.abs(n_K.astype(np.int64)[..., None] - magic_M).min(axis=-1)


def valence_factor(Z: IntArray, N: IntArray) -> np.ndarray:
    """P = ν_N·ν_Z/(ν_N + ν_Z) per nucleus, shape (K,), nucleons; 0 when both are magic."""
    Z_K, N_K = _nuclei(Z, N)
    nu_Z, nu_N = valence_distance(Z_K), valence_distance(N_K)
    total_K = nu_Z + nu_N
    return np.divide(nu_N * nu_Z, total_K, out=np.zeros(Z_K.shape), where=total_K > 0)


def term_vectors(Z: IntArray, N: IntArray) -> dict[str, np.ndarray]:
    """Every physics term as a named vector over the nuclei, each shape (K,).

    The five unsigned SEMF terms of ``semf_terms`` (nucleon-number units), ``nu_Z`` and
    ``nu_N`` (valence distances, nucleons), ``shell_P`` (P, nucleons) and ``shell_P2``
    (P², nucleons²), plus ``Z``, ``N``, ``A`` and ``N_minus_Z``, ready to be matched
    against network features by a domain-free analysis.
    """
    Z_K, N_K = _nuclei(Z, N)
    P_K = valence_factor(Z_K, N_K)
    return {
        **semf_terms(Z_K, N_K),
        "nu_Z": valence_distance(Z_K).astype(np.float64),
        "nu_N": valence_distance(N_K).astype(np.float64),
        "shell_P": P_K,
        "shell_P2": P_K**2,
        "Z": Z_K.astype(np.float64),
        "N": N_K.astype(np.float64),
        "A": (Z_K + N_K).astype(np.float64),
        "N_minus_Z": (N_K - Z_K).astype(np.float64),
    }


def _targets(values: npt.ArrayLike, size: int, what: str) -> np.ndarray:
    y_K = np.asarray(values, dtype=np.float64)
    if y_K.shape != (size,) or not np.isfinite(y_K).all():
        raise PhyslensError(f"{what} must be {size} finite values, one per nucleus; got shape {y_K.shape}")
    return y_K


@dataclass(frozen=True)
class SemfFit:
    """A least-squares fit of the SEMF to binding energies.

    Attributes:
        Z: proton numbers, shape (K,).
        N: neutron numbers, shape (K,).
        binding: fitted binding energies B, shape (K,), MeV.
        coefficients: ``a_V``, ``a_S``, ``a_C``, ``a_A``, ``a_P`` in MeV (all positive
            for real nuclei, signs as in ``SEMF_SIGNS``).
        predictions: SEMF binding energies, shape (K,), MeV.
        rms: root-mean-square of ``binding − predictions``, MeV.
    """

    Z: np.ndarray
    N: np.ndarray
    binding: np.ndarray
    coefficients: dict[str, float]
    predictions: np.ndarray
    rms: float

    @property
    def residuals(self) -> np.ndarray:
        """binding − predictions, shape (K,), MeV."""
        return self.binding - self.predictions

    def to_frame(self) -> pd.DataFrame:
        """Per-nucleus table: Z, N, A, binding, prediction, residual (MeV)."""
        return pd.DataFrame(
            {
                "Z": self.Z,
                "N": self.N,
                "A": self.Z + self.N,
                "binding_MeV": self.binding,
                "prediction_MeV": self.predictions,
                "residual_MeV": self.residuals,
            }
        )


def semf_design(Z: IntArray, N: IntArray) -> np.ndarray:
    """SEMF design matrix X_KT with B_K = X_KT @ (a_V, a_S, a_C, a_A, a_P), shape (K, 5)."""
    terms = semf_terms(Z, N)
    return np.stack([sign * terms[name] for name, sign in zip(SEMF_TERMS, SEMF_SIGNS)], axis=1)


def fit_semf(Z: IntArray, N: IntArray, binding_MeV: npt.ArrayLike) -> SemfFit:
    """Fit the five SEMF coefficients to binding energies by ordinary least squares.

    Args:
        Z: proton numbers, shape (K,), K ≥ 5.
        N: neutron numbers, shape (K,).
        binding_MeV: total binding energies B, shape (K,), MeV.

    Returns a ``SemfFit`` with the coefficients (MeV), predictions and RMS (MeV).
    """
    Z_K, N_K = _nuclei(Z, N)
    B_K = _targets(binding_MeV, Z_K.size, "binding_MeV")
    if Z_K.size < len(SEMF_TERMS):
        raise PhyslensError(f"fitting the SEMF needs at least {len(SEMF_TERMS)} nuclei, got {Z_K.size}")
    X_KT = semf_design(Z_K, N_K)
    coef_T, *_ = np.linalg.lstsq(X_KT, B_K, rcond=None)
    predictions_K = X_KT @ coef_T
    return SemfFit(
        Z=Z_K,
        N=N_K,
        binding=B_K,
        coefficients=dict(zip(SEMF_COEFFICIENTS, (float(c) for c in coef_T))),
        predictions=predictions_K,
        rms=float(np.sqrt(np.mean((B_K - predictions_K) ** 2))),
    )


@dataclass(frozen=True)
class ShellFit:
    """A least-squares fit of the shell correction a1·P + a2·P² to SEMF residuals.

    Attributes:
        Z: proton numbers, shape (K,).
        N: neutron numbers, shape (K,).
        residual: the fitted SEMF residuals B − B_SEMF, shape (K,), MeV.
        a1: coefficient of P, MeV per nucleon.
        a2: coefficient of P², MeV per nucleon².
        predictions: a1·P + a2·P², shape (K,), MeV.
        rms_before: RMS of ``residual``, MeV.
        rms: RMS of ``residual − predictions`` (the SEMF plus shell correction), MeV.
    """

    Z: np.ndarray
    N: np.ndarray
    residual: np.ndarray
    a1: float
    a2: float
    predictions: np.ndarray
    rms_before: float
    rms: float

    def to_frame(self) -> pd.DataFrame:
        """Per-nucleus table: Z, N, P, SEMF residual, shell correction, remainder (MeV)."""
        return pd.DataFrame(
            {
                "Z": self.Z,
                "N": self.N,
                "P": valence_factor(self.Z, self.N),
                "semf_residual_MeV": self.residual,
                "shell_MeV": self.predictions,
                "remainder_MeV": self.residual - self.predictions,
            }
        )


def fit_shell_correction(Z: IntArray, N: IntArray, residual_MeV: npt.ArrayLike) -> ShellFit:
    """Fit a1·P + a2·P² (no constant) to SEMF residuals by ordinary least squares.

    Args:
        Z: proton numbers, shape (K,), K ≥ 2.
        N: neutron numbers, shape (K,).
        residual_MeV: B − B_SEMF per nucleus, shape (K,), MeV (e.g. ``SemfFit.residuals``).

    Returns a ``ShellFit`` with a1 (MeV per nucleon), a2 (MeV per nucleon²), the
    correction and the RMS before and after it (MeV).
    """
    Z_K, N_K = _nuclei(Z, N)
    r_K = _targets(residual_MeV, Z_K.size, "residual_MeV")
    if Z_K.size < 2:
        raise PhyslensError(f"fitting the shell correction needs at least 2 nuclei, got {Z_K.size}")
    P_K = valence_factor(Z_K, N_K)
    X_K2 = np.stack([P_K, P_K**2], axis=1)
    (a1, a2), *_ = np.linalg.lstsq(X_K2, r_K, rcond=None)
    predictions_K = X_K2 @ np.array([a1, a2])
    return ShellFit(
        Z=Z_K,
        N=N_K,
        residual=r_K,
        a1=float(a1),
        a2=float(a2),
        predictions=predictions_K,
        rms_before=float(np.sqrt(np.mean(r_K**2))),
        rms=float(np.sqrt(np.mean((r_K - predictions_K) ** 2))),
    )
