"""Where the physics meets the lens: evaluators and samplers of a spin system, built in one place.

The lens evaluates intervened models without knowing the physics; this module hands
it the physics of a ``SpinSystem`` — its basis and sparse Hamiltonian for exact sums,
a traceable local energy and a Metropolis sampler for Monte Carlo, and C_zz(r) per
configuration — so every study and the front door build their evaluators the same way::

    ev = evaluator(system, model, variables)          # exact where the basis fits, sampled otherwise
    ev.evaluate([Ablate("hidden.post", [0]), Ablate("hidden.post", [1])]).to_frame()

The model is opened with its registry aliases (``physlens.quantum.registry.instrumented``): NetKet's
``RBM`` gets ``hidden.pre``/``hidden.post`` beside its own ``Dense`` site.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import flax.linen as nn
import jax.numpy as jnp
import netket as nk
import numpy as np

from physlens.lens.evaluate import ExactEvaluator
from physlens.lens.interventions import LensLogPsi
from physlens.lens.sampled import LocalEnergy, SampledEvaluator, Sampler
from physlens.quantum.observables import Configurations, czz_per_config
from physlens.quantum.registry import lens_of
from physlens.quantum.systems import SpinSystem

if TYPE_CHECKING:
    from physlens.lens.steering import SAELogPsi

MAX_FULLSUM_STATES = 2**18
"""Largest basis on which physlens sums exactly instead of sampling (training checks, evaluators)."""

DEFAULT_SAMPLES = 4096
"""Monte Carlo samples of a sampled evaluator when none are given."""


def basis_size(system: SpinSystem) -> int:
    """Number of basis states (of the S^z = 0 sector where the system conserves S^z), counted in closed
    form, so that it holds for any size (NetKet's own count overflows beyond ~1000 sites)."""
    n = system.n_sites
    return math.comb(n, n // 2) if system.conserves_sz else 2**n


def fits_exactly(system: SpinSystem) -> bool:
    """Whether the system's basis is small enough (≤ ``MAX_FULLSUM_STATES``) to sum over."""
    return basis_size(system) <= MAX_FULLSUM_STATES


def local_energy_fn(system: SpinSystem) -> LocalEnergy:
    """E_loc(σ) = Σ_σ' H_σσ' ψ(σ')/ψ(σ) as a function ``(log_psi_fn, sigma_SN) -> (S,)`` that JAX can
    trace (connections found once in NumPy, amplitudes in JAX), in ``system.energy_unit``."""
    def local_energy(log_psi_fn, sigma_SN):
        conn_SCN, mels_SC = map(np.asarray, system.hamiltonian.get_conn_padded(np.asarray(sigma_SN)))
        log_conn_SC = log_psi_fn(jnp.asarray(conn_SCN.reshape(-1, sigma_SN.shape[1]))).reshape(mels_SC.shape)
        return (mels_SC * jnp.exp(log_conn_SC - log_psi_fn(jnp.asarray(sigma_SN))[:, None])).sum(-1)

    return local_energy


def sampler_for(system: SpinSystem, n_chains: int = 16, n_discard: int = 64) -> Sampler:
    """``sampler(log_psi_fn, n, seed) -> (n, N)``: Metropolis samples of |exp(log_psi_fn)|² (NetKet;
    spin exchanges along the bonds when S^z is conserved, single flips otherwise; one sweep per sample)."""
    def sample(log_psi_fn, n: int, seed: int) -> np.ndarray:
        n_total = -(-n // n_chains) * n_chains
        state = nk.vqs.MCState(system.metropolis_sampler(n_chains), apply_fun=lambda _, x: log_psi_fn(x),
                               variables={"params": {}}, n_samples=n_total, n_discard_per_chain=n_discard,
                               seed=seed, sampler_seed=seed)
        return np.asarray(state.sample()).reshape(-1, system.n_sites)[:n]

    return sample


def configurations(system: SpinSystem, log_psi_fn: Callable, exact: bool | None = None, *,
                   n_samples: int = DEFAULT_SAMPLES, seed: int = 0) -> Configurations:
    """The configurations to average over for a wavefunction ``sigma_BN ↦ log ψ_B``: the whole basis with
    Born weights where it fits (or when ``exact``), else ``n_samples`` Metropolis samples of |ψ|²."""
    if fits_exactly(system) if exact is None else exact:
        basis_SN = np.asarray(system.hilbert.all_states())
        return Configurations.from_log_psi(basis_SN, np.asarray(log_psi_fn(basis_SN)))
    return Configurations.from_samples(sampler_for(system)(log_psi_fn, n_samples, seed))


def exact_evaluator_of(system: SpinSystem, log_psi: LensLogPsi | SAELogPsi,
                       observables: Mapping[str, np.ndarray]) -> ExactEvaluator:
    """Exact evaluator of any batched wavefunction ``(sigma_BN, edit) ↦ log ψ_B`` (``LensLogPsi``, an SAE
    splice) over the system's basis, with per-configuration ``observables`` tables ``(S, ...)``."""
    return ExactEvaluator(log_psi, np.asarray(system.hilbert.all_states()), system.sparse_hamiltonian(), observables,
                          unit=system.energy_unit)


def sampled_evaluator_of(system: SpinSystem, log_psi: LensLogPsi | SAELogPsi, sigma_SN: np.ndarray,
                         observables: Mapping[str, Callable[[np.ndarray], np.ndarray]], *, resample: bool,
                         ess_threshold: float = 0.1, seed: int = 0, **options: Any) -> SampledEvaluator:
    """Monte Carlo evaluator of any batched wavefunction on samples ``sigma_SN`` of its un-intervened |ψ|²;
    ``resample``: an intervention whose ESS/S falls below ``ess_threshold`` is estimated from fresh samples
    of its own |ψ|² (``options``: ``max_bytes``)."""
    sampler = sampler_for(system) if resample else None
    return SampledEvaluator(log_psi, sigma_SN, local_energy_fn(system), observables, unit=system.energy_unit,
                            sampler=sampler, ess_threshold=ess_threshold, seed=seed, **options)


def exact_evaluator(system: SpinSystem, model: nn.Module, variables: Any,
                    observables: Mapping[str, np.ndarray] | None = None) -> ExactEvaluator:
    """Exact evaluator of interventions on ``model`` over the system's whole basis.

    ``observables``: name → per-configuration table ``(S, ...)`` over ``system.hilbert.all_states()``;
    None gives C_zz(r) (``czz``, in ħ²).
    """
    tables = ({"czz": czz_per_config(system, np.asarray(system.hilbert.all_states()))} if observables is None
              else dict(observables))
    return exact_evaluator_of(system, LensLogPsi(lens_of(model, variables)), tables)


def sampled_evaluator(system: SpinSystem, model: nn.Module, variables: Any, *, n_samples: int = DEFAULT_SAMPLES,
                      seed: int = 0, observables: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
                      resample: bool = True) -> SampledEvaluator:
    """Monte Carlo evaluator: ``n_samples`` Metropolis samples of the un-intervened |ψ|², reweighted for
    each intervention (``physlens.lens.sampled``); with ``resample`` an intervention whose effective sample
    size collapses below 10 % is estimated from fresh samples of its own |ψ|².

    ``observables``: name → function ``sigma_SN ↦ (S, ...)``; None gives C_zz(r) (``czz``, in ħ²).
    """
    sigma_SN = sampler_for(system)(lambda x: model.apply(variables, x), n_samples, seed)
    functions = {"czz": lambda s: czz_per_config(system, s)} if observables is None else dict(observables)
    return sampled_evaluator_of(system, LensLogPsi(lens_of(model, variables)), sigma_SN, functions,
                                resample=resample, seed=seed + 1)


def evaluator(system: SpinSystem, model: nn.Module, variables: Any, exact: bool | None = None,
              **sampled_options: Any) -> ExactEvaluator | SampledEvaluator:
    """``exact_evaluator`` where the basis fits (or when ``exact`` is True), else ``sampled_evaluator``
    with ``sampled_options`` (``n_samples``, ``seed``, ``observables``, ``resample``)."""
    if exact is None:
        exact = fits_exactly(system)
    if exact:
        return exact_evaluator(system, model, variables)
    return sampled_evaluator(system, model, variables, **sampled_options)
