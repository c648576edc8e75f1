"""Exact (full-sum) training of K masked networks at once, batched with ``jax.vmap``.

The K networks share one architecture and one system; each has its own parameters
and its own 0/1 mask (a leading K axis on every leaf). The energy of network k is
the exact E_k = ⟨ψ_k|H|ψ_k⟩/⟨ψ_k|ψ_k⟩, summed over the whole basis with the sparse
Hamiltonian, and its gradient is the exact one:

    ∂E/∂θ = Σ_s c_s ∂log ψ(s)/∂θ,  c_s = 2 ψ_s ((Hψ)_s − E ψ_s) / Σ ψ²

computed chunk by chunk over the basis (``chunk`` states at a time), so memory stays
at one chunk's activations however large the basis (2^18 states for the 3×3 toric
code with 288 hidden units). Parameters move with Adam (optax); SR is not used.

The forward pass uses θ ⊙ m, so the gradient of a pruned weight is exactly zero,
Adam maps a zero gradient to a zero update, and the update is multiplied by the
mask once more: pruned weights stay exactly 0 for any number of steps. Masks are
inputs of the step, never trained.

Usage::

    problem = ExactProblem.of(TFIMSquare(4))
    params_K = init_params(FFNN(widths=(16,)), problem.n_sites, seeds=range(8))
    result = train_masked(FFNN(widths=(16,)), problem, params_K, stack_masks(masks), steps=500)
    result.energy_K, result.rel_error_K
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from physlens.errors import PhyslensError, check_choice
from physlens.lens.mask import Mask
from physlens.quantum.systems import SpinSystem

BATCHINGS = ("vmap", "map")
MAX_EXACT_STATES = 2**18
"""Largest basis this trainer enumerates."""


@dataclass(frozen=True)
class ExactProblem:
    """A system prepared for exact training: the basis and H in padded-row (ELLPACK) form.

    Attributes:
        basis_SN: every basis configuration (±1), shape ``(S, N)``, in ``hilbert.all_states()`` order.
        cols_SR, vals_SR: row s of H holds ``vals_SR[s, r]`` at column ``cols_SR[s, r]``, R the
            largest row count; shorter rows are padded with value 0 (energy units of the system).
        e0: exact ground-state energy (Lanczos), in ``unit``.
        unit: energy unit.
    """

    basis_SN: np.ndarray
    cols_SR: np.ndarray
    vals_SR: np.ndarray
    e0: float
    unit: str

    @classmethod
    def of(cls, system: SpinSystem) -> "ExactProblem":
        """Enumerate the basis of ``system`` and take its cached sparse Hamiltonian and exact energy."""
        n_states = system.hilbert.n_states
        if n_states > MAX_EXACT_STATES:
            raise PhyslensError(f"{system.kind} has {n_states} basis states; exact training allows at most {MAX_EXACT_STATES}")
        csr = system.sparse_hamiltonian().tocsr()
        counts_S = np.diff(csr.indptr)
        width = int(counts_S.max())
        slot_Z = np.arange(csr.nnz) - np.repeat(csr.indptr[:-1], counts_S)
        row_Z = np.repeat(np.arange(n_states), counts_S)
        cols_SR = np.repeat(np.arange(n_states, dtype=np.int32)[:, None], width, axis=1)
        vals_SR = np.zeros((n_states, width))
        cols_SR[row_Z, slot_Z] = csr.indices
        vals_SR[row_Z, slot_Z] = np.real(csr.data)
        return cls(np.asarray(system.hilbert.all_states(), dtype=np.float64), cols_SR, vals_SR,
                   system.exact().energy, system.energy_unit)

    @property
    def n_states(self) -> int:
        """Number S of basis states."""
        return self.basis_SN.shape[0]

    @property
    def n_sites(self) -> int:
        """Number N of sites."""
        return self.basis_SN.shape[1]


@dataclass(frozen=True)
class MaskedTraining:
    """Outcome of training K masked networks.

    Attributes:
        params_K: final parameters, leaves ``(K, *shape)``; pruned entries exactly 0.
        snapshot_K: parameters after ``snapshot_step`` steps (for late rewinding), or None.
        energy_K: exact energy of the final parameters, in ``unit``.
        rel_error_K: |E − E0|/|E0| of the final parameters.
        history_TK: exact energy before each step, shape ``(steps, K)``.
        unit: energy unit.
        method: how ``energy_K`` was obtained: an exact full sum, or a Monte Carlo estimate
            (``monte_carlo_problem.MonteCarloProblem.method``).
        energy_sem_K: the standard error of a Monte Carlo ``energy_K``; None when exact.
    """

    params_K: Any
    snapshot_K: Any
    energy_K: np.ndarray
    rel_error_K: np.ndarray
    history_TK: np.ndarray
    unit: str
    method: str = "exact full sum"
    energy_sem_K: np.ndarray | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per network: ``k``, ``energy``, ``rel_error``, ``method`` (and ``energy_sem`` when sampled)."""
        frame = pd.DataFrame({"k": np.arange(self.energy_K.size), "energy": self.energy_K,
                              "rel_error": self.rel_error_K, "method": self.method})
        return frame if self.energy_sem_K is None else frame.assign(energy_sem=self.energy_sem_K)


def content_seed(params: Any, mask: Mask) -> int:
    """A seed in [0, 2^31) determined by the bytes of ``params`` and of ``mask``'s kept entries."""
    crc = 0
    for leaf in jax.tree_util.tree_leaves(params) + list(mask.leaves().values()):
        crc = zlib.crc32(np.ascontiguousarray(np.asarray(leaf)).tobytes(), crc)
    return crc & 0x7FFFFFFF


def init_params(model: nn.Module, n_sites: int, seeds: Iterable[int]) -> Any:
    """Initial ``"params"`` of ``model`` for each seed (``PRNGKey(seed)``), leaves ``(K, *shape)``."""
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise PhyslensError("init_params got no seeds; allowed: one or more non-negative integers")
    keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    return jax.vmap(lambda key: model.init(key, jnp.ones((1, n_sites)))["params"])(keys)


def param_template(model: nn.Module, n_sites: int) -> Any:
    """One set of ``"params"`` of ``model`` (seed 0) as NumPy arrays: the pytree structure that saved parameters and
    masks are read into."""
    return jax.tree_util.tree_map(lambda leaf: np.asarray(leaf[0]), init_params(model, n_sites, [0]))


def stack_trees(trees: list) -> Any:
    """K pytrees of one structure → one pytree whose leaves are NumPy arrays ``(K, *shape)``."""
    return jax.tree_util.tree_map(lambda *leaves: np.stack([np.asarray(leaf) for leaf in leaves]), *trees)


def unstack_trees(tree_K: Any) -> list:
    """The inverse of ``stack_trees``: a pytree with leaves ``(K, *shape)`` → K pytrees of NumPy arrays."""
    leaves = jax.tree_util.tree_leaves(tree_K)
    return [jax.tree_util.tree_map(lambda leaf: np.asarray(leaf[k]), tree_K) for k in range(len(leaves[0]))]


def _chunks(basis_SN: np.ndarray, chunk: int) -> jax.Array:
    n_states = basis_SN.shape[0]
    chunk = min(chunk, n_states)
    if n_states % chunk:
        raise PhyslensError(f"chunk {chunk} does not divide the basis size {n_states}; allowed: a divisor (a power of 2)")
    return jnp.asarray(basis_SN.reshape(n_states // chunk, chunk, -1))


@dataclass(frozen=True, eq=False)
class EnergyAndGrad:
    """Exact energies and gradients of K masked networks: ``f(params_K, masks_K) → (E_K, grad_K)``.

    ``params_K`` and ``masks_K`` (0/1 floats) have leaves ``(K, *shape)``; the gradient is
    taken with respect to θ of log ψ(θ ⊙ m), so it is zero on pruned entries. ``fn`` is the
    pure function of (params_K, masks_K, data) for use inside another ``jit``; the basis and
    Hamiltonian travel as ``data`` (arguments, not constants folded into the program).

    Attributes:
        fn: vmapped, unjitted (params_K, masks_K, data) → (E_K, grad_K).
        data: (basis_CBN, cols_SR, vals_SR) as device arrays.
        jitted: ``jax.jit(fn)``.
    """

    fn: Any
    data: tuple
    jitted: Any

    def __call__(self, params_K: Any, masks_K: Any):
        masks_K = jax.tree_util.tree_map(lambda m: jnp.asarray(m, dtype=jnp.float64), masks_K)
        return self.jitted(params_K, masks_K, self.data)


def make_energy_and_grad(model: nn.Module, problem: ExactProblem, chunk: int = 2**14,
                         batching: str = "vmap") -> EnergyAndGrad:
    """The exact energy-and-gradient function of K masked copies of ``model`` on ``problem``.

    ``batching`` picks how the K networks share the compiled program: ``vmap`` (one
    batched computation) or ``map`` (``jax.lax.map``: the K networks one after another
    inside the same program, which XLA on a small CPU can run faster).
    """
    check_choice("batching", batching, BATCHINGS)
    data = (_chunks(problem.basis_SN, chunk), jnp.asarray(problem.cols_SR), jnp.asarray(problem.vals_SR))

    def log_psi(params, mask, sigma_BN):
        effective = jax.tree_util.tree_map(jnp.multiply, params, mask)
        return model.apply({"params": effective}, sigma_BN)

    def one(params, mask, data):
        basis_CBN, cols_SR, vals_SR = data
        log_psi_S = jax.lax.map(lambda x: log_psi(params, mask, x), basis_CBN).reshape(-1)
        psi_S = jnp.exp(log_psi_S - jax.lax.stop_gradient(log_psi_S.max()))
        h_psi_S = jnp.sum(vals_SR * psi_S[cols_SR], axis=1)
        norm = psi_S @ psi_S
        energy = psi_S @ h_psi_S / norm
        coef_CB = (2.0 * psi_S * (h_psi_S - energy * psi_S) / norm).reshape(basis_CBN.shape[:2])

        def add_chunk(grad, chunk_data):
            x_BN, c_B = chunk_data
            _, vjp = jax.vjp(lambda p: log_psi(p, mask, x_BN), params)
            return jax.tree_util.tree_map(jnp.add, grad, vjp(c_B)[0]), None

        zero = jax.tree_util.tree_map(jnp.zeros_like, params)
        grad, _ = jax.lax.scan(add_chunk, zero, (basis_CBN, coef_CB))
        return energy, grad

    if batching == "vmap":
        fn = jax.vmap(one, in_axes=(0, 0, None))
    else:
        def fn(params_K, masks_K, data):
            return jax.lax.map(lambda pm: one(pm[0], pm[1], data), (params_K, masks_K))
    return EnergyAndGrad(fn, data, jax.jit(fn))


@functools.lru_cache(maxsize=16)
def _adam_step(energy_and_grad: EnergyAndGrad, learning_rate: float):
    """Adam and its jitted masked step for one energy function (compiled once per K and shapes)."""
    opt = optax.adam(learning_rate)

    @jax.jit
    def step(params, state, masks, data):
        energy, grad = energy_and_grad.fn(params, masks, data)
        updates, state = opt.update(grad, state, params)
        updates = jax.tree_util.tree_map(jnp.multiply, updates, masks)
        return optax.apply_updates(params, updates), state, energy

    return opt, step


def train_masked(model: nn.Module, problem: ExactProblem, params_K: Any, masks_K: Any, *, steps: int,
                 learning_rate: float = 0.01, chunk: int = 2**14, snapshot_step: int | None = None,
                 energy_and_grad: EnergyAndGrad | None = None) -> MaskedTraining:
    """Train K masked copies of ``model`` with Adam on the exact energy, all K in one vmapped step.

    Args:
        model: Flax module mapping ``sigma_BN`` to log ψ (``(B,)``).
        problem: ``ExactProblem.of(system)``.
        params_K: initial ``"params"``, leaves ``(K, *shape)`` (pruned entries are set to 0 first).
        masks_K: 0/1 masks (``physlens.lens.mask.stack_masks``), leaves ``(K, *shape)``.
        steps: Adam steps (≥ 1).
        learning_rate: Adam step size.
        chunk: basis states per chunk of the full sum (a divisor of the basis size).
        snapshot_step: also return the parameters after this many steps (0 ≤ k ≤ steps).
        energy_and_grad: a ``make_energy_and_grad`` function to reuse (saves recompiling).
    """
    if steps < 1:
        raise PhyslensError(f"steps must be >= 1; got {steps}")
    if snapshot_step is not None and not 0 <= snapshot_step <= steps:
        raise PhyslensError(f"snapshot_step {snapshot_step} must be in [0, {steps}]")
    if jax.tree_util.tree_structure(params_K) != jax.tree_util.tree_structure(masks_K):
        raise PhyslensError("params_K and masks_K must have the same pytree structure (one mask leaf per parameter leaf)")
    energy_and_grad = energy_and_grad or make_energy_and_grad(model, problem, chunk)
    masks_K = jax.tree_util.tree_map(lambda m: jnp.asarray(m, dtype=jnp.float64), masks_K)
    params_K = jax.tree_util.tree_map(jnp.multiply, params_K, masks_K)
    opt, step = _adam_step(energy_and_grad, float(learning_rate))
    state = opt.init(params_K)
    history, snapshot = [], params_K if snapshot_step == 0 else None
    for t in range(steps):
        params_K, state, energy = step(params_K, state, masks_K, energy_and_grad.data)
        history.append(np.asarray(energy))
        if snapshot_step == t + 1:
            snapshot = params_K
    final, _ = energy_and_grad(params_K, masks_K)
    final = np.asarray(final)
    return MaskedTraining(params_K, snapshot, final, np.abs(final - problem.e0) / abs(problem.e0),
                          np.stack(history), problem.unit)
