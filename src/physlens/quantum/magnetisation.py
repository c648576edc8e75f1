"""Exact magnetisations of a spin-1/2 state given on the whole basis: ⟨m_z⟩, ⟨|m_z|⟩, ⟨m_z²⟩ and ⟨m_x⟩.

m_z = (1/N) Σ_i σᶻ_i and m_x = (1/N) Σ_i σˣ_i, with Pauli matrices (eigenvalues ±1), so every
value lies in [−1, 1] and is dimensionless. ⟨m_z⟩ is the signed magnetisation Barton et al.
plot against the remaining weights (the mean of their sampled ⟨Z_i⟩); ⟨|m_z|⟩ and ⟨m_z²⟩ are
the order parameters of a finite system, where ⟨m_z⟩ vanishes in a Z2-symmetric state. The
off-diagonal ⟨σˣ_i⟩ = Σ_s ψ*(s) ψ(s with spin i flipped) / Σ_s |ψ(s)|² needs the full
2^N basis (``basis_SN`` in any order; no S^z constraint). All sums are exact.

Usage::

    values = magnetisations(basis_SN, log_psi_S)     # {"m_z": …, "abs_m_z": …, "m_z_sq": …, "m_x": …}
"""

from __future__ import annotations

import numpy as np

from physlens.errors import PhyslensError

MAGNETISATIONS = {"m_z": "⟨m_z⟩", "abs_m_z": "⟨|m_z|⟩", "m_z_sq": "⟨m_z²⟩", "m_x": "⟨m_x⟩"}
"""Column name → the quantity, for tables and axes."""


def flip_index(basis_SN: np.ndarray) -> np.ndarray:
    """Row of the configuration with spin i flipped, for every row s and site i: shape ``(S, N)``.

    ``basis_SN`` must hold each of the 2^N configurations (entries ±1) exactly once.
    """
    basis_SN = np.asarray(basis_SN)
    n_states, n_sites = basis_SN.shape
    if n_states != 2**n_sites or not np.all(np.abs(basis_SN) == 1):
        raise PhyslensError(f"need all 2^N configurations of ±1 spins; got {n_states} rows of {n_sites} sites")
    powers_N = 2 ** np.arange(n_sites - 1, -1, -1)
    code_S = (basis_SN > 0).astype(np.int64) @ powers_N
    row_of_code = np.full(n_states, -1)
    row_of_code[code_S] = np.arange(n_states)
    if np.any(row_of_code < 0):
        raise PhyslensError("the basis repeats a configuration; need each of the 2^N exactly once")
    return row_of_code[code_S[:, None] ^ powers_N[None, :]]


def magnetisations(basis_SN: np.ndarray, log_psi_S: np.ndarray, flips_SN: np.ndarray | None = None) -> dict[str, float]:
    """⟨m_z⟩, ⟨|m_z|⟩, ⟨m_z²⟩ and ⟨m_x⟩ of ψ by full sums (keys of ``MAGNETISATIONS``).

    Args:
        basis_SN: the 2^N configurations (±1), shape ``(S, N)``.
        log_psi_S: log ψ on those rows (real or complex), shape ``(S,)``.
        flips_SN: ``flip_index(basis_SN)``, to reuse across many states.
    """
    basis_SN = np.asarray(basis_SN, dtype=float)
    log_psi_S = np.asarray(log_psi_S)
    if log_psi_S.shape != basis_SN.shape[:1]:
        raise PhyslensError(f"log_psi has shape {log_psi_S.shape}; need one value per basis row ({basis_SN.shape[0]},)")
    flips_SN = flip_index(basis_SN) if flips_SN is None else flips_SN
    psi_S = np.exp(log_psi_S - np.max(np.real(log_psi_S)))
    prob_S = np.abs(psi_S) ** 2 / np.sum(np.abs(psi_S) ** 2)
    m_S = basis_SN.mean(axis=1)
    sx_S = np.real(np.conj(psi_S)[:, None] * psi_S[flips_SN]).mean(axis=1) / np.sum(np.abs(psi_S) ** 2)
    return {"m_z": float(prob_S @ m_S), "abs_m_z": float(prob_S @ np.abs(m_S)), "m_z_sq": float(prob_S @ m_S**2),
            "m_x": float(np.sum(sx_S))}
