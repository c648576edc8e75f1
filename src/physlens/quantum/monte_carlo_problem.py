"""Monte Carlo estimates for masked networks of a system too large to enumerate.

``masked_training.ExactProblem`` sums over every basis state (up to 2^18); beyond it — Barton
et al.'s 6×6 … 10×10 lattices — a network's energy, magnetisations and fidelities are
estimated from samples of |ψ|² (NetKet's ``MCState`` with ``MetropolisLocal``), each with its
standard error (NetKet's ``Stats``: chains and autocorrelation accounted for), and the
relative error is measured against a reference energy obtained elsewhere
(``physlens.quantum.dmrg``). Every estimate says so: ``MonteCarloProblem.method``.

The sampler seed of a network is a hash of its parameters and mask
(``masked_training.content_seed``): the same network gives the same estimate.

Estimators, for σ drawn from |ψ|²/⟨ψ|ψ⟩ (m_z = (1/N) Σ σᶻ_i, Pauli matrices):

- E = ⟨E_loc⟩, E_loc(σ) = Σ_σ' H_σσ' ψ(σ')/ψ(σ);
- ⟨m_z⟩, ⟨|m_z|⟩, ⟨m_z²⟩ from the samples' m_z(σ); ⟨m_x⟩ = ⟨(1/N) Σ_i ψ(σ with i flipped)/ψ(σ)⟩;
- F(a, b) = ⟨ψ_b/ψ_a⟩_a ⟨ψ_a/ψ_b⟩_b = |⟨a|b⟩|²/(⟨a|a⟩⟨b|b⟩) (``fidelity.sampled_fidelity``).

Usage::

    problem = MonteCarloProblem(system, e0=ref.energy, reference=ref.method)
    energy_K, sem_K = problem.energies(model, params, masks)          # K parameter pytrees and masks
    sample = problem.sample(model, params, mask)          # samples, log ψ, magnetisations
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np

from physlens.errors import PhyslensError
from physlens.lens.mask import Mask
from physlens.lens.pruning import Masked, masked_variables
from physlens.quantum.masked_training import content_seed
from physlens.quantum.systems import SpinSystem


def _jitted_apply(model):
    """``Masked(model).apply`` compiled once per (hashable) model: (variables, sigma_BN) → log ψ, shape ``(B,)``."""
    try:
        return _cached_apply(model)
    except TypeError:          # a module with an unhashable field (a list) is compiled afresh
        return jax.jit(Masked(model).apply)


@functools.cache
def _cached_apply(model):
    return jax.jit(Masked(model).apply)


def _local_m_x(log_psi, sigma_SN: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """(1/N) Σ_i ψ(σ with spin i flipped)/ψ(σ) per sample, shape ``(S,)``; ``chunk`` samples at a time
    (each becomes N flipped configurations)."""
    flips_NN = 1.0 - 2.0 * np.eye(sigma_SN.shape[1])
    parts = []
    for start in range(0, len(sigma_SN), chunk):
        block_BN = sigma_SN[start:start + chunk]
        flipped_BNN = block_BN[:, None, :] * flips_NN[None]
        log_flipped_BN = np.asarray(log_psi(jnp.asarray(flipped_BNN.reshape(-1, flipped_BNN.shape[-1])))).reshape(
            flipped_BNN.shape[:2])
        parts.append(np.real(np.mean(np.exp(log_flipped_BN - np.asarray(log_psi(jnp.asarray(block_BN)))[:, None]),
                                     axis=1)))
    return np.concatenate(parts)


def _stats(values_CT: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of per-sample values, shape ``(chains, chain length)``."""
    stats = nk.stats.statistics(np.asarray(values_CT))
    return float(np.real(stats.mean)), float(stats.error_of_mean)


@dataclass(frozen=True)
class NetworkSample:
    """One network's samples and what they estimate.

    Attributes:
        sigma_SN: the samples (±1), S = chains × chain length, shape ``(S, N)``.
        log_psi: log ψ of the network on any ``(B, N)`` configurations → ``(B,)``.
        values: ``m_z``, ``abs_m_z``, ``m_z_sq``, ``m_x``, ``energy`` (when asked for; in the system's unit) and each
            with ``_sem`` (standard error).
    """

    sigma_SN: np.ndarray
    log_psi: Any
    values: dict


@dataclass(frozen=True)
class MonteCarloProblem:
    """A system estimated by sampling, against a reference energy.

    Attributes:
        system: the spin system (its NetKet Hamiltonian and Hilbert space).
        e0: reference ground-state energy, in the system's unit.
        reference: how ``e0`` was obtained (e.g. ``DMRGReference.method``).
        samples: samples per estimate.
        chains: Markov chains.
        discard: sweeps discarded per chain before sampling (the chains start at random configurations).
    """

    system: SpinSystem
    e0: float
    reference: str
    samples: int = 16_384
    chains: int = 16
    discard: int = 100

    def __post_init__(self):
        if min(self.samples, self.chains) < 1 or self.discard < 0 or self.samples % self.chains:
            raise PhyslensError(f"need samples and chains >= 1 with chains dividing samples, discard >= 0; got "
                                f"{self.samples}, {self.chains}, {self.discard}")

    @property
    def unit(self) -> str:
        """The system's energy unit (``energy_unit``)."""
        return self.system.energy_unit

    @property
    def n_sites(self) -> int:
        """Number N of spins."""
        return self.system.hilbert.size

    @property
    def method(self) -> str:
        """The estimates in words (recorded beside them)."""
        return (f"Monte Carlo: {self.samples:,} samples of |ψ|² (MetropolisLocal, {self.chains} chains, "
                f"{self.discard} sweeps discarded per chain), errors against {self.reference}")

    def _state(self, model, params: Any, mask: Mask) -> nk.vqs.MCState:
        seed = content_seed(params, mask)
        return nk.vqs.MCState(nk.sampler.MetropolisLocal(self.system.hilbert, n_chains=self.chains), Masked(model),
                              variables=masked_variables(params, mask), n_samples=self.samples,
                              n_discard_per_chain=self.discard, seed=seed, sampler_seed=seed + 1)

    def energies(self, model, params: list, masks: list[Mask]) -> tuple[np.ndarray, np.ndarray]:
        """Energy and its standard error of K masked networks (K parameter pytrees and masks), shapes ``(K,)``,
        in ``unit``."""
        means, errors = [], []
        for one, mask in zip(params, masks):
            stats = self._state(model, one, mask).expect(self.system.hamiltonian)
            means.append(float(np.real(stats.mean)))
            errors.append(float(stats.error_of_mean))
        return np.asarray(means), np.asarray(errors)

    def sample(self, model, params: Any, mask: Mask, with_energy: bool = True) -> NetworkSample:
        """The network's samples, its log ψ, and its magnetisations and (``with_energy``) energy with standard
        errors; the same samples either way (the energy's local estimator is the costly part to leave out)."""
        state = self._state(model, params, mask)
        sigma_CTN = np.asarray(state.samples)
        n_chains, length, n_sites = sigma_CTN.shape
        log_psi = functools.partial(_jitted_apply(model), masked_variables(params, mask))
        sigma_SN = sigma_CTN.reshape(-1, n_sites)
        m_x_S = _local_m_x(log_psi, sigma_SN)
        m_z_S = sigma_SN.mean(axis=1)
        values = {}
        if with_energy:
            energy = state.expect(self.system.hamiltonian)
            values = {"energy": float(np.real(energy.mean)), "energy_sem": float(energy.error_of_mean)}
        for name, per_sample_S in (("m_z", m_z_S), ("abs_m_z", np.abs(m_z_S)), ("m_z_sq", m_z_S**2), ("m_x", m_x_S)):
            values[name], values[f"{name}_sem"] = _stats(per_sample_S.reshape(n_chains, length))
        return NetworkSample(sigma_SN, log_psi, values)
