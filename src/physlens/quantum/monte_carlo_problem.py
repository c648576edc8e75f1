"""Monte Carlo estimates for masked networks of a system too large to enumerate.

``masked_training.ExactProblem`` sums over every basis state (up to 2^18); beyond it — Barton
et al.'s 6×6 … 10×10 lattices — a network's energy, magnetisations and fidelities are
estimated from samples of |ψ|² (NetKet's ``MCState`` with ``MetropolisLocal``), each with its
standard error (NetKet's ``Stats``: chains and autocorrelation accounted for), and the
relative error is measured against a reference energy obtained elsewhere
(``physlens.quantum.dmrg``). Every estimate says so: ``MonteCarloProblem.method``.

The sampler seed of a network is a hash of its parameters and mask
(``vmc_masked_training.content_seed``): the same network gives the same estimate.

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

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np

from physlens.errors import PhyslensError
from physlens.lens.mask import Mask
from physlens.lens.pruning import Masked, masked_variables
from physlens.quantum.systems import SpinSystem
from physlens.quantum.vmc_masked_training import content_seed


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
        values: ``energy``, ``m_z``, ``abs_m_z``, ``m_z_sq``, ``m_x`` and each with ``_sem`` (standard error).
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
        return self.system.energy_unit

    @property
    def n_sites(self) -> int:
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

    def sample(self, model, params: Any, mask: Mask) -> NetworkSample:
        """The network's samples, its log ψ, and its energy and magnetisations with standard errors."""
        state = self._state(model, params, mask)
        energy = state.expect(self.system.hamiltonian)
        sigma_CTN = np.asarray(state.samples)
        n_chains, length, n_sites = sigma_CTN.shape
        variables = masked_variables(params, mask)
        log_psi = jax.jit(lambda sigma_BN: Masked(model).apply(variables, sigma_BN))
        sigma_SN = sigma_CTN.reshape(-1, n_sites)
        flipped_SNN = sigma_SN[:, None, :] * (1.0 - 2.0 * np.eye(n_sites))[None]
        log_flipped_SN = jax.vmap(log_psi)(jnp.asarray(flipped_SNN))
        m_x_S = np.real(np.mean(np.exp(np.asarray(log_flipped_SN) - np.asarray(log_psi(sigma_SN))[:, None]), axis=1))
        m_z_S = sigma_SN.mean(axis=1)
        values = {"energy": float(np.real(energy.mean)), "energy_sem": float(energy.error_of_mean)}
        for name, per_sample_S in (("m_z", m_z_S), ("abs_m_z", np.abs(m_z_S)), ("m_z_sq", m_z_S**2), ("m_x", m_x_S)):
            values[name], values[f"{name}_sem"] = _stats(per_sample_S.reshape(n_chains, length))
        return NetworkSample(sigma_SN, log_psi, values)
