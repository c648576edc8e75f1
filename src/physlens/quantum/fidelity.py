"""Fidelity between two wavefunctions given on the same basis by their log-amplitudes.

F(ψ_a, ψ_b) = |⟨ψ_a|ψ_b⟩|² / (⟨ψ_a|ψ_a⟩ ⟨ψ_b|ψ_b⟩) ∈ [0, 1], summed over every basis state
(exact, never sampled). Unnormalised log-amplitudes of any scale are fine: each is shifted
by its largest real part before exponentiating.

Usage::

    fidelity(log_psi_a_S, log_psi_b_S)            # one pair, shape (S,) each
    fidelity(log_psi_KS[:-1], log_psi_KS[1:])      # consecutive rows: shape (K−1,)
"""

from __future__ import annotations

import numpy as np

from physlens.errors import PhyslensError


def _amplitudes(log_psi_S: np.ndarray) -> np.ndarray:
    log_psi_S = np.asarray(log_psi_S)
    return np.exp(log_psi_S - np.max(np.real(log_psi_S), axis=-1, keepdims=True))


def fidelity(log_psi_a_S: np.ndarray, log_psi_b_S: np.ndarray) -> np.ndarray:
    """|⟨ψ_a|ψ_b⟩|² / (⟨ψ_a|ψ_a⟩⟨ψ_b|ψ_b⟩) over the last axis (the basis, S states); leading axes broadcast.

    Args:
        log_psi_a_S, log_psi_b_S: log ψ (real or complex) on the same basis states, shapes ``(..., S)``.

    Returns:
        The fidelities, shape ``(...)`` (a 0-d array for two vectors), dimensionless in [0, 1].
    """
    psi_a, psi_b = _amplitudes(log_psi_a_S), _amplitudes(log_psi_b_S)
    if psi_a.shape[-1] != psi_b.shape[-1]:
        raise PhyslensError(f"the two states live on different bases ({psi_a.shape[-1]} and {psi_b.shape[-1]} states)")
    overlap = np.sum(np.conj(psi_a) * psi_b, axis=-1)
    norms = np.sum(np.abs(psi_a) ** 2, axis=-1) * np.sum(np.abs(psi_b) ** 2, axis=-1)
    return np.abs(overlap) ** 2 / norms
