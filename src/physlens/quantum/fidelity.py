"""Fidelity between two wavefunctions given on the same basis by their log-amplitudes.

F(ψ_a, ψ_b) = |⟨ψ_a|ψ_b⟩|² / (⟨ψ_a|ψ_a⟩ ⟨ψ_b|ψ_b⟩) ∈ [0, 1], summed over every basis state
(``fidelity``, exact) or, beyond the exact basis, estimated from samples of both states
(``sampled_fidelity``). Unnormalised log-amplitudes of any scale are fine: each is shifted
by its largest real part before exponentiating.

Usage::

    fidelity(log_psi_a_S, log_psi_b_S)            # one pair, shape (S,) each
    fidelity(log_psi_KS[:-1], log_psi_KS[1:])      # consecutive rows: shape (K−1,)
    sampled_fidelity(log_a(sigma_a), log_b(sigma_a), log_a(sigma_b), log_b(sigma_b))
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


def _log_mean_exp(x_S: np.ndarray) -> complex:
    shift = np.max(np.real(x_S))
    return shift + np.log(np.mean(np.exp(x_S - shift)))


def sampled_fidelity(log_a_on_a_S: np.ndarray, log_b_on_a_S: np.ndarray, log_a_on_b_T: np.ndarray,
                     log_b_on_b_T: np.ndarray) -> float:
    """F(ψ_a, ψ_b) estimated from S samples of |ψ_a|² and T samples of |ψ_b|²: ⟨ψ_b/ψ_a⟩_a ⟨ψ_a/ψ_b⟩_b.

    ⟨ψ_b/ψ_a⟩_a = ⟨a|b⟩/⟨a|a⟩ and ⟨ψ_a/ψ_b⟩_b = ⟨b|a⟩/⟨b|b⟩, so the product is the fidelity; the ratios are
    averaged in log space. Unbiased in each factor, not in the product; its noise grows as the overlap falls.

    Args:
        log_a_on_a_S, log_b_on_a_S: log ψ_a and log ψ_b on the samples of |ψ_a|², shape ``(S,)``.
        log_a_on_b_T, log_b_on_b_T: log ψ_a and log ψ_b on the samples of |ψ_b|², shape ``(T,)``.
    """
    there = _log_mean_exp(np.asarray(log_b_on_a_S) - np.asarray(log_a_on_a_S))
    back = _log_mean_exp(np.asarray(log_a_on_b_T) - np.asarray(log_b_on_b_T))
    return float(np.real(np.exp(there + back)))
