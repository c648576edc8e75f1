"""Exact evaluation of many intervened wavefunctions in one batched pass.

An intervened model is still a function σ ↦ log ψ(σ). ``ExactEvaluator`` sums over
an enumerated basis (S states of a possibly symmetry-constrained Hilbert space)
with a sparse Hamiltonian, and evaluates K interventions of one hook in one jitted
pass, a loop over blocks of configurations: per block, ``jax.vmap`` over the
intervention axis (the un-intervened upstream computation runs once per block, while
its activations are still in cache) or, where log ψ is affine in the hook
(``physlens.lens.affine``), two matrix products or a slice of the hook's values; the
block is written into a kept S × K work array and its Born sums are accumulated. Then
the energies ⟨ψ|H|ψ⟩/⟨ψ|ψ⟩ come from one sparse product H Ψ for all K. It returns an
``EvaluationResult``, the same type ``SampledEvaluator`` (``sampled.py``) returns::

    evaluator = ExactEvaluator(LensLogPsi(lens), sigma_SN, system.hamiltonian.to_sparse(),
                               {"czz": czz_SR}, unit="J")
    result = evaluator.evaluate([Identity("hidden.post"), *single_unit_ablations("hidden.post", M)])
    result.energies_K, result.observables["czz"], result.to_frame()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import scipy.sparse

from physlens.errors import PhyslensError
from physlens.lens.affine import SparseEdits
from physlens.lens.interventions import HookEdit, Intervention, stack
from physlens.xla_cpu import library_fusion_options

MAX_BYTES = 2**30
"""Default bound on the working memory of one evaluation pass (about 1 GB)."""

ROW_BLOCK = 1024
"""Configurations per block of the batched pass (keeps one block's activations in cache)."""


@dataclass(frozen=True)
class EvaluationResult:
    """Energies and observables of K intervened wavefunctions.

    Attributes:
        labels: one description per intervention, length K.
        energies_K: energy of each intervened state, in ``unit``, shape ``(K,)``.
        energy_errors_K: standard error of each energy (0 for exact results), ``(K,)``.
        observables: name → Born average per intervention, shape ``(K, ...)``.
        observable_errors: name → standard error, same shapes (0 for exact results).
        ess_K: effective sample size of each estimate (inf for exact results), ``(K,)``.
        resampled_K: True where the estimate used fresh samples of that state, ``(K,)``.
        exact: True for a full sum over the basis, False for Monte Carlo.
        unit: energy unit of the Hamiltonian.
        n_samples: basis size S (exact) or number of reference samples (sampled).
        shift_errors_K: standard error of E_k − E_0, the shift from the un-intervened model, in ``unit``,
            ``(K,)``: 0 when exact; for reweighted estimates it pairs each sample's contribution to both
            energies, so it is far smaller than either energy's own error when the intervention is gentle.
    """

    labels: tuple[str, ...]
    energies_K: np.ndarray
    energy_errors_K: np.ndarray
    observables: dict[str, np.ndarray]
    observable_errors: dict[str, np.ndarray]
    ess_K: np.ndarray
    resampled_K: np.ndarray
    exact: bool
    unit: str
    n_samples: int
    shift_errors_K: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def to_frame(self) -> pd.DataFrame:
        """One row per intervention: label, energy, energy_err, shift_err (of E_k − E_0), ess, resampled, and
        one column per observable component (``czz[3]``) with its ``_err`` column."""
        columns: dict[str, Any] = {"label": list(self.labels), "energy": self.energies_K,
                                   "energy_err": self.energy_errors_K, "shift_err": self.shift_errors_K,
                                   "ess": self.ess_K, "resampled": self.resampled_K}
        for name, values in self.observables.items():
            flat = values.reshape(len(self), -1)
            errs = self.observable_errors[name].reshape(len(self), -1)
            scalar = values.ndim == 1
            for r in range(flat.shape[1]):
                key = name if scalar else f"{name}[{r}]"
                columns[key], columns[f"{key}_err"] = flat[:, r], errs[:, r]
        frame = pd.DataFrame(columns)
        frame["exact"], frame["unit"] = self.exact, self.unit
        return frame


def batch_edit(interventions: Sequence[Intervention] | HookEdit, log_psi: Any,
               sigma_BN: np.ndarray) -> tuple[HookEdit, tuple[str, ...]]:
    """Interventions (or an already stacked ``HookEdit`` with a K axis) as a ``(K, D)`` edit and labels."""
    if isinstance(interventions, HookEdit):
        if np.ndim(interventions.scale) != 2:
            raise PhyslensError("a HookEdit batch needs a leading K axis: scale of shape (K, D); "
                                f"got {np.shape(interventions.scale)}")
        k = interventions.scale.shape[0]
        return interventions, tuple(f"{interventions.hook} edit {i}" for i in range(k))
    interventions = list(interventions)
    if not interventions:
        raise PhyslensError("no interventions given; pass at least one (e.g. Identity(hook))")
    width = log_psi.width(interventions[0].hook, sigma_BN)
    return stack(interventions, width), tuple(i.label for i in interventions)


def pad_edit(edit_KD: HookEdit, n: int) -> HookEdit:
    """Append identity edits so the K axis has length ``n`` ≥ K."""
    extra = n - edit_KD.scale.shape[0]
    ones = jnp.ones((extra, edit_KD.scale.shape[1]), edit_KD.scale.dtype)
    return HookEdit(edit_KD.hook, jnp.concatenate([edit_KD.scale, ones]),
                    jnp.concatenate([edit_KD.shift, jnp.zeros_like(ones, dtype=edit_KD.shift.dtype)]))


def blocks(x: np.ndarray, size: int) -> np.ndarray:
    """Split the leading axis into blocks of ``size``: ``(S, ...)`` → ``(C, size, ...)``, C = ⌈S/size⌉;
    the last block is padded with copies of row 0 (callers discard or zero-weight the padding)."""
    n_blocks = -(-x.shape[0] // size)
    padded = np.concatenate([x, np.repeat(x[:1], n_blocks * size - x.shape[0], axis=0)])
    return padded.reshape(n_blocks, size, *x.shape[1:])


class ExactEvaluator:
    """Energies and diagonal observables of intervened models by full summation.

    Args:
        log_psi: ``(sigma_BN, edit) ↦ log ψ_B`` with a ``width(hook, sigma_BN)`` method,
            as ``LensLogPsi(lens)``; a pytree, so its parameters are traced, not folded.
        sigma_SN: the enumerated basis, ``(S, N)``, in the order of the Hamiltonian's rows.
        hamiltonian: the Hamiltonian over that basis, an S×S scipy sparse matrix (e.g.
            ``system.hamiltonian.to_sparse()``), in ``unit``.
        observables: name → per-configuration table, shape ``(S,)`` or ``(S, R, ...)``
            (e.g. C_zz(r) of each configuration), averaged with the Born weights.
        unit: energy unit of the Hamiltonian.
        max_bytes: rough bound on the working memory of one pass; interventions are
            processed in chunks of the K axis that fit.

    One pass per chunk of the K interventions (all chunks of one size, so one compilation): a jitted JAX
    computation writes the K wavefunctions (normalised to their largest amplitude) block by block into one
    S × K work array, kept between calls and donated back to each pass, and sums the norms and Born averages
    while each block is in cache; then one sparse product H Ψ_SK in scipy (CSR times a dense S × K block, the
    fastest sparse product on a CPU) and the K overlaps ⟨ψ_k|H|ψ_k⟩.
    The work array stays allocated (at most about ``max_bytes``) while the evaluator lives.
    """

    def __init__(self, log_psi, sigma_SN, hamiltonian, observables: Mapping[str, Any] | None = None,
                 unit: str = "", *, max_bytes: int = MAX_BYTES):
        sigma_SN = np.asarray(sigma_SN)
        if sigma_SN.ndim != 2:
            raise PhyslensError(f"sigma_SN must have shape (S, N); got {sigma_SN.shape}")
        n_states = sigma_SN.shape[0]
        if not scipy.sparse.issparse(hamiltonian) or hamiltonian.shape != (n_states, n_states):
            raise PhyslensError(f"hamiltonian must be a scipy sparse matrix of shape ({n_states}, {n_states}); "
                                f"got {type(hamiltonian).__name__} {getattr(hamiltonian, 'shape', '')}")
        self.log_psi = log_psi
        self.sigma_SN = sigma_SN
        self.unit = unit
        self.max_bytes = int(max_bytes)
        self.n_states = n_states
        self._obs_shapes = {}
        tables = {}
        for name, table in (observables or {}).items():
            table = np.asarray(table)
            if table.shape[:1] != (n_states,):
                raise PhyslensError(f"observable {name!r} has shape {table.shape}; it must be (S, ...) with S = {n_states}")
            self._obs_shapes[name] = table.shape[1:]
            tables[name] = table.reshape(n_states, -1)
        self.h_csr = scipy.sparse.csr_array(hamiltonian)
        self.block = min(ROW_BLOCK, n_states)
        self._sigma_CBN = jnp.asarray(blocks(sigma_SN, self.block))
        moments_SM = np.concatenate([np.ones((n_states, 1))] + [tables[name] for name in self._obs_shapes], axis=1)
        ends = np.cumsum([tables[name].shape[1] for name in self._obs_shapes], dtype=int)
        self._obs_columns = {name: slice(end - tables[name].shape[1], end) for name, end in zip(self._obs_shapes, ends)}
        padding = self._sigma_CBN.shape[0] * self.block - n_states
        self._tables_CBM = jnp.asarray(np.pad(moments_SM, ((0, padding), (0, 0))).reshape(-1, self.block, moments_SM.shape[1]))
        fast = library_fusion_options()
        self._states = jax.jit(self._states_chunk, static_argnames="affine", donate_argnames="buffer_SK",
                               compiler_options=fast)
        self._weights = jax.jit(self._weights_chunk, static_argnames="affine", compiler_options=fast)
        self._affine: dict[str, bool] = {}
        self._work_SK: jax.Array | None = None
        self._dtypes: dict[tuple, np.dtype] = {}

    def width(self, hook: str) -> int:
        """Width D of hook ``hook`` (e.g. the number of hidden units M)."""
        return self.log_psi.width(hook, self.sigma_SN[:1])

    def _dtype(self, edit_KD: HookEdit) -> np.dtype:
        """dtype of log ψ under edits of this hook (complex for a complex wavefunction), traced once per hook."""
        key = (edit_KD.hook, edit_KD.scale.dtype.name, edit_KD.shift.dtype.name)
        if key not in self._dtypes:
            one = jax.tree.map(lambda a: a[0], edit_KD)
            self._dtypes[key] = np.dtype(jax.eval_shape(self.log_psi, self._sigma_CBN[0], one).dtype)
        return self._dtypes[key]

    def _k_chunk(self, edit_KD: HookEdit) -> int:
        """Interventions per chunk: about six (S,) arrays and one block's activations each."""
        n_int, width = edit_KD.scale.shape
        itemsize = self._dtype(edit_KD).itemsize
        per_intervention = itemsize * (6 * self.n_states + self.block * width)
        return int(np.clip(self.max_bytes // per_intervention, 1, n_int))

    def is_affine(self, hook: str) -> bool:
        """Whether log ψ is affine in ``hook`` (then K edits cost two matrix products, ``physlens.lens.affine``)."""
        if hook not in self._affine:
            check = getattr(self.log_psi, "affine_in", None)
            self._affine[hook] = bool(check is not None and check(hook, self.sigma_SN[:1]))
        return self._affine[hook]

    def _log_psi_SK(self, log_psi, edit_KD: HookEdit, sigma_CBN, affine: bool = False, sparse=None) -> jax.Array:
        log_psi_CBK = jax.lax.map(lambda sigma_BN: self._edited_block(log_psi, edit_KD, sigma_BN, affine, sparse),
                                  sigma_CBN)
        return log_psi_CBK.reshape(-1, log_psi_CBK.shape[-1])

    @staticmethod
    def _edited_block(log_psi, edit_KD: HookEdit, sigma_BN, affine: bool, sparse) -> jax.Array:
        """log ψ of one block of configurations under the K edits, ``(B, K)``."""
        if affine:
            return log_psi.edited(sigma_BN, edit_KD.hook, edit_KD if sparse is None else sparse)
        return jax.vmap(lambda edit: log_psi(sigma_BN, edit), out_axes=1)(edit_KD)

    def _states_chunk(self, log_psi, edit_KD: HookEdit, sigma_CBN, tables_CBM, buffer_SK, affine: bool,
                      sparse=None) -> tuple[jax.Array, jax.Array]:
        """Ψ_SK scaled to max |ψ_k| = 1, written block by block into ``buffer_SK`` (donated, so the pass
        allocates no S × K array: a fresh one costs XLA a page fault per 4 kB, as much as the sparse product
        H Ψ itself), and the Born sums Σ_s |ψ_sk|² T_sm of the tables ``(K, M)`` (column 0 all ones: the norms;
        zero on the padded rows), accumulated while each block is in cache. Both are scaled by the largest
        log-amplitude so far, carried through the loop and corrected as it grows (reducing the written array
        afterwards instead makes XLA copy it). The padded rows are copies of configuration 0, the caller keeps
        the first S."""
        size = sigma_CBN.shape[1]

        def write(c, carry):
            out_SK, max_K, sums_KM = carry
            block_BK = self._edited_block(log_psi, edit_KD, sigma_CBN[c], affine, sparse)
            out_SK = jax.lax.dynamic_update_slice(out_SK, block_BK.astype(out_SK.dtype), (c * size, 0))
            new_K = jnp.maximum(max_K, jnp.max(jnp.real(block_BK), axis=0))
            finite_K = jnp.where(jnp.isneginf(new_K), 0.0, new_K)
            prob_BK = jnp.exp(2 * (jnp.real(block_BK) - finite_K))
            sums_KM = sums_KM * jnp.exp(2 * (max_K - finite_K))[:, None] + prob_BK.T @ tables_CBM[c]
            return out_SK, new_K, sums_KM

        real = jnp.real(buffer_SK).dtype
        start = (buffer_SK, jnp.full(buffer_SK.shape[1], -jnp.inf, real),
                 jnp.zeros((buffer_SK.shape[1], tables_CBM.shape[2]), real))
        log_psi_SK, max_K, sums_KM = jax.lax.fori_loop(0, sigma_CBN.shape[0], write, start)
        return jnp.exp(log_psi_SK - max_K), sums_KM

    def _buffer(self, edit_KD: HookEdit) -> jax.Array:
        """The padded S × K work array for a chunk of these edits: the previous pass's if it has the shape and dtype."""
        shape, dtype = (self._sigma_CBN.shape[0] * self.block, edit_KD.scale.shape[0]), self._dtype(edit_KD)
        work_SK, self._work_SK = self._work_SK, None
        if work_SK is None or work_SK.shape != shape or work_SK.dtype != dtype:
            return jnp.zeros(shape, dtype)
        return work_SK

    def _weights_chunk(self, log_psi, edit_KD: HookEdit, sigma_CBN, affine: bool) -> jax.Array:
        log_psi_SK = self._log_psi_SK(log_psi, edit_KD, sigma_CBN, affine)[: self.n_states]
        prob_SK = jnp.exp(2 * (jnp.real(log_psi_SK) - jnp.max(jnp.real(log_psi_SK), axis=0)))
        return (prob_SK / prob_SK.sum(axis=0)).T

    def _energies(self, psi_SK: np.ndarray, norms_K: np.ndarray) -> np.ndarray:
        """⟨ψ_k|H|ψ_k⟩/⟨ψ_k|ψ_k⟩ ``(K,)`` in ``unit``: one CSR × dense product H Ψ for all K, then the overlaps."""
        h_psi_SK = self.h_csr @ psi_SK
        bra_SK = psi_SK.conj() if np.iscomplexobj(psi_SK) else psi_SK
        return np.real(np.einsum("sk,sk->k", bra_SK, h_psi_SK)) / norms_K

    def evaluate(self, interventions: Sequence[Intervention] | HookEdit) -> EvaluationResult:
        """Energy and observables of each of K intervened models (one hook), exactly.

        ``interventions``: K interventions on one hook, or a stacked ``HookEdit`` of shape ``(K, D)``.
        """
        edit_KD, labels = batch_edit(interventions, self.log_psi, self.sigma_SN[:1])
        n_int = edit_KD.scale.shape[0]
        chunk = self._k_chunk(edit_KD)
        edit_KD = pad_edit(edit_KD, -(-n_int // chunk) * chunk)
        energies, observables = [], {name: [] for name in self._obs_shapes}
        for lo in range(0, edit_KD.scale.shape[0], chunk):
            part = jax.tree.map(lambda a: a[lo:lo + chunk], edit_KD)
            affine = self.is_affine(part.hook)
            sparse = SparseEdits.of(part.scale, part.shift) if affine else None
            psi_padded, sums_KM = self._states(self.log_psi, part, self._sigma_CBN, self._tables_CBM,
                                               self._buffer(part), affine=affine, sparse=sparse)
            sums_KM = np.asarray(sums_KM)
            energies.append(self._energies(np.asarray(psi_padded)[: self.n_states], sums_KM[:, 0]))
            self._work_SK = psi_padded
            moments_KR = sums_KM[:, 1:] / sums_KM[:, :1]
            for name, columns in self._obs_columns.items():
                observables[name].append(moments_KR[:, columns])
        energies_K = np.concatenate(energies)[:n_int]
        observables = {name: np.concatenate(parts)[:n_int].reshape(n_int, *self._obs_shapes[name])
                       for name, parts in observables.items()}
        return EvaluationResult(labels, energies_K, np.zeros(n_int), observables,
                                {name: np.zeros_like(v) for name, v in observables.items()},
                                np.full(n_int, np.inf), np.zeros(n_int, bool), True, self.unit, self.n_states,
                                np.zeros(n_int))

    def born_weights(self, interventions: Sequence[Intervention] | HookEdit) -> np.ndarray:
        """Normalised Born weights |ψ_k(σ)|² / Σ_σ |ψ_k(σ)|² of each intervened model, ``(K, S)``."""
        edit_KD, _ = batch_edit(interventions, self.log_psi, self.sigma_SN[:1])
        return np.asarray(self._weights(self.log_psi, edit_KD, self._sigma_CBN, affine=self.is_affine(edit_KD.hook)))
