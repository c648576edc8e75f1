"""Lottery-ticket pruning: magnitude and random pruning, rewinding, masked training.

Every pruning routine takes a ``physlens.lens.mask.Mask`` and returns a new one that
removes *exactly* floor(p · n) weights (``rounding="floor"``) or p · n rounded to the
nearest integer, halves to even (``rounding="nearest"``, the ``rint`` of Barton et al.'s
code: 12 % of 2,048 is 246, not 245), n being the surviving prunable weights (globally,
or per leaf for ``prune_layerwise``). p · n is taken on the decimal value of p as
written, so 0.29 of 100 weights is 29, not the 28 of binary rounding. Ties in
|θ| go to the earlier weight: leaves in mask order (``Mask.paths``), entries in C order.

Training under a mask, through NetKet's VMC with SR and any optax optimiser, has two
routes; both keep pruned weights exactly zero for any number of steps:

- **Recommended:** ``Masked(model)`` with ``masked_variables(params, mask)``. The mask
  multiplies the weights inside the forward pass and lives in the non-trainable
  ``"mask"`` collection (NetKet model state), so ∂log ψ/∂θ is exactly zero for a pruned
  weight: the quantum geometric tensor has zero rows and columns there, SR's solve
  gives the survivors exactly the natural-gradient step *of the sparse network*, and
  the pruned entries get a zero step from every optimiser that maps a zero gradient to
  a zero update (sgd, momentum, adam). Hook names and the ``"params"`` tree are those
  of the bare model, so a ``Lens`` opens the masked model as it is.
- ``masked_optimizer(opt, mask)`` on the bare model, with ``mask.apply`` on the initial
  parameters: the optimiser's output is masked after SR preconditioning. Pruned
  weights stay zero, but their log-derivatives are not zero, so SR still solves in the
  dense parameter space and the survivors move along a projection of the *dense*
  natural gradient: not the sparse network's SR dynamics. Masking the gradient
  *before* SR would not do either: the tensor couples pruned and surviving weights,
  so the preconditioned step is non-zero on pruned weights. Use this route where a
  model cannot be wrapped, or on top of ``Masked`` for an optimiser that moves
  parameters with zero gradient (weight decay).

Usage::

    mask = prune_global(trained, Mask.ones_like(init), 0.2)
    ticket = rewind(trained, init, mask)                     # survivors at θ_0
    control = random_mask_like(mask, seed=1)                 # same per-layer density
    vs = nk.vqs.FullSumState(hilbert, Masked(model), variables=masked_variables(ticket, mask))
    driver = nk.driver.VMC(H, optax.sgd(0.05), variational_state=vs, preconditioner=nk.optimizer.SR())
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from physlens.errors import PhyslensError, check_choice
from physlens.lens.mask import Mask

ROUNDINGS = ("floor", "nearest")
"""How fraction · n becomes a count of weights to prune."""


def _check_fraction(fraction: float) -> None:
    if not 0.0 <= fraction <= 1.0:
        raise PhyslensError(f"pruning fraction must be in [0, 1]; got {fraction}")


def _count(fraction: float, n: int, rounding: str = "floor") -> int:
    """fraction · n rounded down (``floor``) or to the nearest integer, halves to even (``nearest``, NumPy's
    ``rint`` as in Barton et al.'s sparse-nqs code), computed on the decimal value of ``fraction`` as written."""
    check_choice("rounding", rounding, ROUNDINGS)
    exact = Decimal(repr(float(fraction))) * n
    return math.floor(exact) if rounding == "floor" else int(exact.to_integral_value(ROUND_HALF_EVEN))


def _rng(seed: int) -> np.random.Generator:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise PhyslensError(f"seed must be a non-negative integer; got {seed!r}")
    return np.random.default_rng(int(seed))


def _survivors(mask: Mask) -> list[tuple[str, np.ndarray]]:
    """(path, flat indices of kept entries) for every prunable leaf, in mask order."""
    return [(p, np.flatnonzero(k)) for p, k in mask.leaves().items() if p in mask.prunable]


def _magnitudes(params: Any, mask: Mask) -> dict[str, np.ndarray]:
    """Flattened float64 |θ| of every prunable leaf of ``params``."""
    mask.check_fits(params)
    mags = {}
    for path, value in zip(mask.paths, jax.tree_util.tree_leaves(params)):
        if path in mask.prunable:
            mag = np.abs(np.asarray(value)).astype(np.float64).ravel()
            if not np.all(np.isfinite(mag)):
                raise PhyslensError(f"params leaf {path!r} contains NaN or inf; allowed: finite values")
            mags[path] = mag
    return mags


def _remove(mask: Mask, removed: dict[str, np.ndarray]) -> Mask:
    """``mask`` with the given flat indices of each named leaf set to pruned."""
    leaves = mask.leaves()
    new = {}
    for path, flat in removed.items():
        keep = leaves[path].copy()
        keep.reshape(-1)[flat] = False
        new[path] = keep
    return mask.replace(new)


def _smallest(values: np.ndarray, n: int) -> np.ndarray:
    """Positions of the n smallest ``values``; ties go to the earlier position."""
    return np.argsort(values, kind="stable")[:n]


def prune_global(params: Any, mask: Mask, fraction: float, rounding: str = "floor") -> Mask:
    """Prune fraction · n (rounded by ``rounding``) of the n surviving prunable weights with the smallest |θ|
    across all leaves.

    Args:
        params: parameter pytree matching ``mask`` (any float or complex dtype).
        mask: the current mask; already-pruned weights stay pruned.
        fraction: share of the surviving prunable weights to remove, in [0, 1].
        rounding: ``floor`` or ``nearest`` (``ROUNDINGS``).
    """
    _check_fraction(fraction)
    mags = _magnitudes(params, mask)
    survivors = _survivors(mask)
    values = np.concatenate([mags[p][flat] for p, flat in survivors])
    leaf_of = np.concatenate([np.full(flat.size, i) for i, (_, flat) in enumerate(survivors)])
    flat_of = np.concatenate([flat for _, flat in survivors])
    chosen = _smallest(values, _count(fraction, values.size, rounding))
    return _remove(mask, {p: flat_of[chosen[leaf_of[chosen] == i]] for i, (p, _) in enumerate(survivors)})


def prune_layerwise(params: Any, mask: Mask, fraction: float, rounding: str = "floor") -> Mask:
    """Prune, in every prunable leaf, fraction · n_leaf (rounded by ``rounding``) of its surviving weights with the
    smallest |θ|."""
    _check_fraction(fraction)
    mags = _magnitudes(params, mask)
    return _remove(mask, {p: flat[_smallest(mags[p][flat], _count(fraction, flat.size, rounding))]
                          for p, flat in _survivors(mask)})


def prune_random(mask: Mask, fraction: float, seed: int, rounding: str = "floor") -> Mask:
    """Prune fraction · n (rounded by ``rounding``) of the n surviving prunable weights, uniformly at random
    (NumPy ``default_rng(seed)``)."""
    _check_fraction(fraction)
    rng = _rng(seed)
    survivors = _survivors(mask)
    sizes = np.cumsum([0] + [flat.size for _, flat in survivors])
    chosen = rng.choice(sizes[-1], size=_count(fraction, int(sizes[-1]), rounding), replace=False)
    return _remove(mask, {p: flat[chosen[(chosen >= lo) & (chosen < hi)] - lo]
                          for (p, flat), lo, hi in zip(survivors, sizes[:-1], sizes[1:])})


def random_mask_like(mask: Mask, seed: int) -> Mask:
    """A uniformly random mask keeping exactly as many weights in every prunable leaf as ``mask`` does.

    The control T(θ_init, m_rand) of a lottery-ticket experiment: same per-layer
    densities, random positions (NumPy ``default_rng(seed)``, leaves in mask order).
    """
    rng = _rng(seed)
    new = {}
    for path, keep in mask.leaves().items():
        if path in mask.prunable:
            random_keep = np.zeros(keep.size, dtype=bool)
            random_keep[rng.permutation(keep.size)[:int(keep.sum())]] = True
            new[path] = random_keep.reshape(keep.shape)
    return mask.replace(new)


def rewind(params_trained: Any, params_init: Any, mask: Mask) -> Any:
    """Parameters of the ticket: surviving weights (and every non-prunable leaf) at ``params_init``, pruned weights 0.

    ``params_init`` is θ_0 or a step-k checkpoint (late rewinding); ``params_trained``
    only has to fit the mask (its values are what the mask was found from, not reused).
    Returns JAX arrays with the structure and dtypes of ``params_init``.
    """
    mask.check_fits(params_trained, name="params_trained")
    mask.check_fits(params_init, name="params_init")
    return mask.apply(params_init)


def masked_optimizer(opt: optax.GradientTransformation, mask: Mask) -> optax.GradientTransformation:
    """``opt`` with pruned entries of its input and of its output updates set to exactly 0.

    In ``nk.driver.VMC`` the optimiser receives the SR-preconditioned gradient, so the
    mask acts after preconditioning. Parameters must match ``mask``; start them from
    ``mask.apply(params)`` so pruned weights begin, and stay, at zero.
    """
    def init(params):
        mask.check_fits(params)
        return opt.init(params)

    def update(updates, state, params=None):
        updates, state = opt.update(mask.apply(updates), state, params)
        return mask.apply(updates), state

    return optax.GradientTransformation(init, update)


class Masked(nn.Module):
    """A model whose weights are multiplied by a 0/1 mask held in the ``"mask"`` collection.

    The wrapped model shares this module's scope, so ``"params"`` and the hook names are
    those of the bare model; ``"mask"`` mirrors ``"params"`` leaf for leaf. Init creates
    an all-ones mask; apply needs a ``"mask"`` collection (``masked_variables``). The
    wrapped model must not write to variable collections during apply.

    Attributes:
        model: the Flax module to mask.
    """

    model: nn.Module

    def setup(self):
        """Flax setup: share the wrapped model's scope, so ``params`` and hook names are the bare model's."""
        nn.share_scope(self, self.model)

    def __call__(self, x: jax.Array, *args, **kwargs) -> jax.Array:
        """The wrapped model's output on ``x`` (e.g. log ψ of ``sigma_BN``, shape ``(B,)``), pruned weights at 0."""
        if self.is_initializing():
            out = self.model(x, *args, **kwargs)
            for name, value in self.variables["params"].items():
                self.put_variable("mask", name, jax.tree_util.tree_map(jnp.ones_like, value))
            return out
        if "mask" not in self.variables:
            raise PhyslensError("Masked model applied without a 'mask' collection; allowed: variables from masked_variables")
        params, keep = self.variables["params"], self.variables["mask"]
        if jax.tree_util.tree_structure(params) != jax.tree_util.tree_structure(keep):
            raise PhyslensError("the 'mask' collection does not mirror 'params'; allowed: one 0/1 leaf per parameter leaf")
        effective = jax.tree_util.tree_map(lambda p, k: jnp.where(k != 0, p, jnp.zeros_like(p)), params, keep)
        others = {c: v for c, v in self.variables.items() if c not in ("params", "mask")}
        return self.model.apply({"params": effective, **others}, x, *args, **kwargs)


def masked_variables(params: Any, mask: Mask, dtype: Any = np.float64) -> dict:
    """Variables for ``Masked``: ``{"params": mask.apply(params), "mask": 0/1 arrays of dtype}``."""
    return {"params": mask.apply(params), "mask": mask.to_tree(dtype)}
