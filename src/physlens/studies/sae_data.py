"""The physics the SAE-steering study hands to the sampled evaluator as functions: a local energy
that JAX can trace (so K steered models are batched) and a sampler of any log-amplitude
function (to check reweighted numbers against fresh samples)::

    evaluator = SampledEvaluator(log_psi, samples_SN, local_energy_fn(system), sampler=sampler_for(system))
"""

from __future__ import annotations

import jax.numpy as jnp
import netket as nk
import numpy as np


def local_energy_fn(system):
    """E_loc(σ) = Σ_σ' H_σσ' ψ(σ')/ψ(σ) as a function ``(log_psi_fn, sigma_SN) -> (S,)`` that JAX can
    trace (connections found once in NumPy, amplitudes in JAX), in ``system.energy_unit``."""
    def local_energy(log_psi_fn, sigma_SN):
        conn_SCN, mels_SC = map(np.asarray, system.hamiltonian.get_conn_padded(np.asarray(sigma_SN)))
        log_conn_SC = log_psi_fn(jnp.asarray(conn_SCN.reshape(-1, sigma_SN.shape[1]))).reshape(mels_SC.shape)
        return (mels_SC * jnp.exp(log_conn_SC - log_psi_fn(jnp.asarray(sigma_SN))[:, None])).sum(-1)

    return local_energy


def sampler_for(system, n_chains: int = 16, n_discard: int = 64):
    """``sampler(log_psi_fn, n, seed) -> (n, N)``: Metropolis samples of |exp(log_psi_fn)|² (NetKet;
    spin exchanges along the bonds when S^z is conserved, single flips otherwise; one sweep per sample)."""
    def sample(log_psi_fn, n: int, seed: int) -> np.ndarray:
        n_total = -(-n // n_chains) * n_chains
        state = nk.vqs.MCState(system.metropolis_sampler(n_chains), apply_fun=lambda _, x: log_psi_fn(x), variables={"params": {}}, n_samples=n_total,
                               n_discard_per_chain=n_discard, seed=seed, sampler_seed=seed)
        return np.asarray(state.sample()).reshape(-1, system.n_sites)[:n]

    return sample
