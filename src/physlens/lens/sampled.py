"""Monte Carlo evaluation of intervened wavefunctions by importance reweighting.

For Hilbert spaces too large to enumerate, ``SampledEvaluator`` reuses samples
σ_1..σ_S drawn from |ψ_0|² (the un-intervened model). Intervention k gets weights
w_k(σ) ∝ |ψ_k(σ)|²/|ψ_0(σ)|² and self-normalised estimates

    E_k ≈ Σ_s w_k(σ_s) E_loc^k(σ_s) / Σ_s w_k(σ_s),   ⟨O⟩_k likewise,

with E_loc^k(σ) = ⟨σ|H|ψ_k⟩/⟨σ|ψ_k⟩ the local energy of the intervened model, all K
interventions batched with ``jax.vmap``. It reports the effective sample size
ESS_k = (Σw)²/Σw² and delta-method standard errors √(Σ w² (x − x̄)²)/Σw, which
treat the samples as independent (thin correlated Markov chains first). The shift
E_k − E_0 gets its own, paired, error: both estimates use the same samples, so the
fluctuations they share cancel (``paired_shift_error``). When
ESS_k/S falls below ``ess_threshold`` and a ``sampler`` is given, intervention k is
estimated from fresh samples of |ψ_k|² instead (uniform weights, ``resampled``).
The result is the ``EvaluationResult`` of ``ExactEvaluator``, with ``exact=False``::

    def local_energy(log_psi_fn, sigma_SN):          # physics supplied by the caller
        sigma_SJN, mels_SJ = hamiltonian.get_conn_padded(np.asarray(sigma_SN))
        return (mels_SJ * jnp.exp(log_psi_fn(sigma_SJN) - log_psi_fn(sigma_SN)[:, None])).sum(-1)

    evaluator = SampledEvaluator(LensLogPsi(lens), samples_SN, local_energy, {"czz": czz_fn}, unit="J")
    result = evaluator.evaluate(single_unit_ablations("hidden.post", M))
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from physlens.errors import PhyslensError
from physlens.lens.evaluate import MAX_BYTES, EvaluationResult, batch_edit, pad_edit
from physlens.lens.interventions import HookEdit, Intervention

LogPsiFn = Callable[[jax.Array], jax.Array]
LocalEnergy = Callable[[LogPsiFn, np.ndarray], jax.Array]
Sampler = Callable[[LogPsiFn, int, int], np.ndarray]

UNTRACEABLE = (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError,
               jax.errors.TracerBoolConversionError)
"""Errors raised when a local-energy function converts traced values to NumPy."""


def weighted_mean(x_KS: np.ndarray, weights_KS: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Self-normalised mean over S and its delta-method standard error, both ``(K, ...)``.

    ``x_KS`` has shape ``(K, S, ...)``; ``weights_KS`` ``(K, S)`` are non-negative.
    """
    w_KS = weights_KS / weights_KS.sum(axis=1, keepdims=True)
    w = w_KS.reshape(*w_KS.shape, *([1] * (x_KS.ndim - 2)))
    mean = (w * x_KS).sum(axis=1)
    error = np.sqrt((w**2 * np.abs(x_KS - mean[:, None]) ** 2).sum(axis=1))
    return mean, error


def paired_shift_error(x_KS: np.ndarray, weights_KS: np.ndarray, x0_S: np.ndarray) -> np.ndarray:
    """Delta-method standard error of x̄_k − x̄_0 over the same S samples, ``(K,)``.

    x̄_k is the self-normalised mean of ``x_KS`` ``(K, S)`` under ``weights_KS`` ``(K, S)``, x̄_0
    the plain mean of ``x0_S`` ``(S,)``. Sample s contributes w̃_ks (x_ks − x̄_k) − (x0_s − x̄_0)/S
    to the difference (w̃ the normalised weights); the error is the root sum of squares of
    those contributions, treating samples as independent.
    """
    w_KS = weights_KS / weights_KS.sum(axis=1, keepdims=True)
    mean_K = (w_KS * x_KS).sum(axis=1)
    own_S = (x0_S - x0_S.mean()) / x0_S.size
    return np.sqrt(((w_KS * (x_KS - mean_K[:, None]) - own_S) ** 2).sum(axis=1))


class SampledEvaluator:
    """Energies and diagonal observables of intervened models from reference samples.

    Args:
        log_psi: ``(sigma_BN, edit) ↦ log ψ_B`` with a ``width(hook, sigma_BN)`` method,
            as ``LensLogPsi(lens)``.
        sigma_SN: S reference samples drawn from |ψ_0|² of the un-intervened model, ``(S, N)``.
        local_energy: ``local_energy(log_psi_fn, sigma_SN) -> (S,)``, the local energy
            E_loc(σ) = Σ_σ' H_σσ' ψ(σ')/ψ(σ) (in ``unit``) of the model ``log_psi_fn``
            (``sigma_BN ↦ log ψ_B``) at each sample. It gets ``sigma_SN`` as a NumPy array.
            If it uses only JAX operations on what ``log_psi_fn`` returns it is traced and
            batched over interventions; if it converts them to NumPy it is called once per
            intervention instead (same results, slower).
        observables: name → function of ``sigma_SN`` giving a per-configuration table
            ``(S,)`` or ``(S, R, ...)`` (diagonal observables, e.g. C_zz(r)).
        unit: energy unit of the Hamiltonian.
        sampler: optional ``sampler(log_psi_fn, n, seed) -> sigma_nN`` drawing n samples from
            |exp(log_psi_fn)|²; used for interventions whose ESS collapses.
        ess_threshold: resample (or warn, without a sampler) when ESS/S is below this.
        seed: base seed for the sampler (intervention k gets a seed derived from (seed, k)).
        max_bytes: rough bound on the working memory of one batched pass.
    """

    def __init__(self, log_psi, sigma_SN, local_energy: LocalEnergy,
                 observables: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None, unit: str = "", *,
                 sampler: Sampler | None = None, ess_threshold: float = 0.1, seed: int = 0,
                 max_bytes: int = MAX_BYTES):
        sigma_SN = np.asarray(sigma_SN)
        if sigma_SN.ndim != 2 or sigma_SN.shape[0] < 2:
            raise PhyslensError(f"sigma_SN must have shape (S, N) with S >= 2 samples; got {sigma_SN.shape}")
        if not 0.0 <= ess_threshold <= 1.0:
            raise PhyslensError(f"ess_threshold must be in [0, 1] (a fraction of the sample size); got {ess_threshold}")
        self.log_psi = log_psi
        self.sigma_SN = sigma_SN
        self.local_energy = local_energy
        self.observables = dict(observables or {})
        self.unit = unit
        self.sampler = sampler
        self.ess_threshold = float(ess_threshold)
        self.seed = int(seed)
        self.max_bytes = int(max_bytes)
        self.n_samples = sigma_SN.shape[0]
        self._tables = self._observable_tables(sigma_SN)
        self._traceable = True
        self._batched = jax.jit(partial(self._local_stats, sigma_SN=self.sigma_SN))
        self._log_psi_jit = jax.jit(lambda log_psi, edit, sigma_BN: log_psi(sigma_BN, edit))

    def width(self, hook: str) -> int:
        """Width D of hook ``hook`` (e.g. the number of hidden units M)."""
        return self.log_psi.width(hook, self.sigma_SN[:1])

    def _observable_tables(self, sigma_SN: np.ndarray) -> dict[str, np.ndarray]:
        tables = {}
        for name, fn in self.observables.items():
            table = np.asarray(fn(sigma_SN))
            if table.shape[:1] != sigma_SN.shape[:1]:
                raise PhyslensError(f"observable {name!r} gave shape {table.shape}; "
                                    f"it must be (S, ...) with S = {sigma_SN.shape[0]}")
            tables[name] = table
        return tables

    def _local_stats(self, log_psi, edit_CKD: HookEdit, sigma_SN: np.ndarray) -> tuple[jax.Array, jax.Array]:
        """log ψ_k and E_loc^k at every sample for chunks of edits: two ``(C, K, S)`` arrays."""
        def one(edit: HookEdit):
            return log_psi(jnp.asarray(sigma_SN), edit), self.local_energy(log_psi.bind(edit), sigma_SN)

        return jax.lax.map(jax.vmap(one), edit_CKD)

    def _bound(self, edit: HookEdit) -> LogPsiFn:
        """One intervened model as a compiled ``sigma_BN ↦ log ψ_B``."""
        return partial(self._log_psi_jit, self.log_psi, edit)

    def _local(self, edit_KD: HookEdit, sigma_SN: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log ψ_k and E_loc^k at every sample of ``sigma_SN``, two ``(K, S)`` arrays.

        Batched over K in chunks when the local energy is traceable (chunks sized for
        about N + 1 connected configurations per sample, as for nearest-neighbour spin
        models); otherwise one intervention at a time (a local energy written in NumPy).
        """
        n_int, width = edit_KD.scale.shape
        if self._traceable:
            per_intervention = 16 * sigma_SN.shape[0] * (sigma_SN.shape[1] + 2) * (width + 2)
            chunk = int(np.clip(self.max_bytes // per_intervention, 1, n_int))
            n_chunks = -(-n_int // chunk)
            edit_CKD = jax.tree.map(lambda a: a.reshape(n_chunks, chunk, width), pad_edit(edit_KD, n_chunks * chunk))
            batched = self._batched if sigma_SN is self.sigma_SN else jax.jit(partial(self._local_stats, sigma_SN=sigma_SN))
            try:
                log_psi_CKS, e_loc_CKS = batched(self.log_psi, edit_CKD)
                return (np.asarray(log_psi_CKS).reshape(-1, sigma_SN.shape[0])[:n_int],
                        np.asarray(e_loc_CKS).reshape(-1, sigma_SN.shape[0])[:n_int])
            except UNTRACEABLE:
                self._traceable = False
        log_psi_KS, e_loc_KS = [], []
        for k in range(n_int):
            log_psi_fn = self._bound(jax.tree.map(lambda a: a[k], edit_KD))
            log_psi_KS.append(np.asarray(log_psi_fn(sigma_SN)))
            e_loc_KS.append(np.asarray(self.local_energy(log_psi_fn, sigma_SN)))
        return np.stack(log_psi_KS), np.stack(e_loc_KS)

    def evaluate(self, interventions: Sequence[Intervention] | HookEdit) -> EvaluationResult:
        """Estimated energy and observables of each of K intervened models (one hook).

        ``interventions``: K interventions on one hook, or a stacked ``HookEdit`` of shape ``(K, D)``.
        """
        edit_KD, labels = batch_edit(interventions, self.log_psi, self.sigma_SN[:1])
        n_int = len(labels)
        with_reference = pad_edit(edit_KD, n_int + 1)
        log_psi_KS, e_loc_KS = self._local(with_reference, self.sigma_SN)
        log_weights_KS = 2 * (np.real(log_psi_KS[:n_int]) - np.real(log_psi_KS[n_int]))
        weights_KS = np.exp(log_weights_KS - log_weights_KS.max(axis=1, keepdims=True))
        ess_K = weights_KS.sum(axis=1) ** 2 / (weights_KS**2).sum(axis=1)
        energies_K, energy_errors_K = weighted_mean(np.real(e_loc_KS[:n_int]), weights_KS)
        reference_S = np.real(e_loc_KS[n_int])
        shift_errors_K = paired_shift_error(np.real(e_loc_KS[:n_int]), weights_KS, reference_S)
        observables, observable_errors = {}, {}
        for name, table in self._tables.items():
            table_KS = np.broadcast_to(table, (n_int, *table.shape))
            observables[name], observable_errors[name] = weighted_mean(table_KS, weights_KS)
        resampled_K = np.zeros(n_int, bool)
        reference_error = reference_S.std() / np.sqrt(reference_S.size)
        low = np.flatnonzero(ess_K < self.ess_threshold * self.n_samples)
        if low.size and self.sampler is None:
            warnings.warn(f"{low.size} intervention(s) have ESS/S below {self.ess_threshold}; their estimates are "
                          "unreliable (pass a sampler to resample them)", stacklevel=2)
        for k in low if self.sampler is not None else ():
            edit = jax.tree.map(lambda a: a[k], edit_KD)
            energies_K[k], energy_errors_K[k], ess_K[k], obs, errs = self._resampled(edit, k)
            shift_errors_K[k] = np.hypot(energy_errors_K[k], reference_error)
            for name in observables:
                observables[name][k], observable_errors[name][k] = obs[name], errs[name]
            resampled_K[k] = True
        return EvaluationResult(labels, energies_K, energy_errors_K, observables, observable_errors,
                                ess_K, resampled_K, False, self.unit, self.n_samples, shift_errors_K)

    def _resampled(self, edit: HookEdit, k: int):
        """Estimates for one intervention from fresh samples of its own |ψ_k|²."""
        seed = int(np.random.SeedSequence([self.seed, k]).generate_state(1)[0])
        sigma_SN = np.asarray(self.sampler(self._bound(edit), self.n_samples, seed))
        _, e_loc_1S = self._local(jax.tree.map(lambda a: a[None], edit), sigma_SN)
        uniform_1S = np.ones((1, sigma_SN.shape[0]))
        energy, error = weighted_mean(np.real(e_loc_1S), uniform_1S)
        obs, errs = {}, {}
        for name, table in self._observable_tables(sigma_SN).items():
            mean, err = weighted_mean(table[None], uniform_1S)
            obs[name], errs[name] = mean[0], err[0]
        return energy[0], error[0], float(sigma_SN.shape[0]), obs, errs
