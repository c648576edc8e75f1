"""Affine read-outs: K edits of a site for the price of two matrix products.

When a model's output is an affine function of one of its sites — an RBM's log ψ is
the sum of its ``hidden.post`` terms plus a visible term, an FFNN's the sum of its last
layer — the K affine edits ``h ↦ h · s_k + t_k`` of that site need no K-fold forward
pass. With J = ∂ log ψ/∂h (constant, because the map is affine) and the un-edited h,

    log ψ_k(σ) = log ψ(σ) + Σ_d A_d(σ) (s_kd − 1) + Σ_d B_d(σ) t_kd,
    A_d = Σ_rest J_…d h_…d,   B_d = Σ_rest J_…d,

two (B, D) × (D, K) products. Whether the map is affine is decided exactly, from the
jaxpr of the model with the site's value as an input: every operation on the path from
that input to the output must be linear in it (sums, reshapes, products with values
that do not depend on it, …); one nonlinear operation and the site is not affine::

    if readout_is_affine(lens, "hidden.post", sigma_BN[:1]):
        log_psi_BK = affine_edits(lens, "hidden.post", sigma_BN, SparseEdits.of(edit_KD.scale, edit_KD.shift) or edit_KD)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core

from physlens.lens.hooks import Lens

LINEAR_ANY = frozenset({
    "add", "sub", "neg", "reduce_sum", "broadcast_in_dim", "reshape", "squeeze", "expand_dims", "transpose",
    "convert_element_type", "concatenate", "copy", "copy_p", "slice", "real", "imag", "complex", "cumsum", "rev",
    "add_any", "reduce_precision", "conj", "pad",
})
"""Primitives linear in every operand (a sum of affine values is affine)."""

LINEAR_ONE = frozenset({"mul", "dot_general"})
"""Primitives linear in each operand when only one of them depends on the site."""

INDEX_OPERANDS = {"select_n": slice(0, 1), "gather": slice(1, None), "dynamic_slice": slice(1, None),
                  "dynamic_update_slice": slice(2, None)}
"""Primitive → its operands that choose positions (a predicate, indices): they must not depend on the site,
and the result is then linear in the other operands. ``div`` is linear in its numerator only."""

SUBJAXPR_PARAMS = ("jaxpr", "call_jaxpr", "fun_jaxpr")


def _depends(var, dependent: set) -> bool:
    return not isinstance(var, core.Literal) and var in dependent


def _affine(jaxpr, dependent: set) -> bool:
    """Whether every output of ``jaxpr`` is affine in the variables of ``dependent`` (updated in place)."""
    for eqn in jaxpr.eqns:
        flags = [_depends(v, dependent) for v in eqn.invars]
        if not any(flags):
            continue
        name = eqn.primitive.name
        sub = next((eqn.params[p] for p in SUBJAXPR_PARAMS if p in eqn.params), None)
        if sub is not None:
            inner = sub.jaxpr if hasattr(sub, "jaxpr") else sub
            inner_dependent = {v for v, f in zip(inner.invars, flags) if f}
            if not _affine(inner, inner_dependent):
                return False
            outs = {v for v in inner.outvars if _depends(v, inner_dependent)}
            dependent.update(o for o, i in zip(eqn.outvars, inner.outvars) if i in outs)
            continue
        if name in LINEAR_ANY:
            pass
        elif name in LINEAR_ONE:
            if sum(flags) != 1:
                return False
        elif name == "div":
            if flags[1]:
                return False
        elif name in INDEX_OPERANDS:
            if any(flags[INDEX_OPERANDS[name]]):
                return False
        else:
            return False
        dependent.update(eqn.outvars)
    return True


def readout_is_affine(lens: Lens, hook: str, sigma_BN: jax.Array) -> bool:
    """Whether log ψ is an affine function of site ``hook``'s value (decided from the jaxpr, exactly)."""
    _, cache = jax.eval_shape(lambda s: lens.run_with_cache(s, [hook]), sigma_BN)
    site = cache[hook]
    if not isinstance(site, jax.ShapeDtypeStruct) or jnp.issubdtype(site.dtype, jnp.complexfloating):
        return False

    def with_site(variables, sigma, h):
        return Lens(lens.model, variables).run_with_hooks(sigma, {hook: lambda _: h})

    closed = jax.make_jaxpr(with_site)(lens.variables, sigma_BN, site)
    site_var = closed.jaxpr.invars[-1]
    return _affine(closed.jaxpr, {site_var})


SPARSE_FILL = 0.25
"""Largest share of non-zero entries of (scale − 1) and shift at which the edits are applied as sparse
updates (a scatter of the non-zeros) rather than dense matrix products."""


@partial(jax.tree_util.register_dataclass, data_fields=["k_E", "d_E", "v_E", "k_F", "d_F", "w_F"],
         meta_fields=["n_edits", "scale_layout", "shift_layout"])
@dataclass(frozen=True)
class SparseEdits:
    """K affine edits of one site stored by their non-zeros: (scale − 1)[k_E, d_E] = v_E and
    shift[k_F, d_F] = w_F (E, F entries). Single-unit ablations are K entries, not K × D.

    Attributes:
        k_E, d_E, v_E: edit index, component and value of each non-zero of scale − 1.
        k_F, d_F, w_F: the same for the shift.
        n_edits: K.
        scale_layout, shift_layout: how the non-zeros reach the K edits (``layout_of``): ``"slice"`` (edit k's
            only non-zero is component d_0 + k, as for single-unit ablations: a slice of columns), ``"gather"``
            (one non-zero per edit, anywhere) or ``"scatter"`` (any pattern).
    """

    k_E: jax.Array
    d_E: jax.Array
    v_E: jax.Array
    k_F: jax.Array
    d_F: jax.Array
    w_F: jax.Array
    n_edits: int
    scale_layout: str = "scatter"
    shift_layout: str = "scatter"

    @classmethod
    def of(cls, scale_KD, shift_KD) -> "SparseEdits | None":
        """The non-zeros of K stacked edits (concrete arrays), or None when more than ``SPARSE_FILL`` of
        the entries are non-zero (then dense products are faster)."""
        delta_KD, shift_KD = np.asarray(scale_KD) - 1.0, np.asarray(shift_KD)
        k_E, d_E = np.nonzero(delta_KD)
        k_F, d_F = np.nonzero(shift_KD)
        if k_E.size + k_F.size > SPARSE_FILL * delta_KD.size:
            return None
        n_edits = delta_KD.shape[0]
        return cls(k_E, d_E, delta_KD[k_E, d_E], k_F, d_F, shift_KD[k_F, d_F], n_edits,
                   layout_of(k_E, d_E, n_edits), layout_of(k_F, d_F, n_edits))


def layout_of(k_E: np.ndarray, d_E: np.ndarray, n_edits: int) -> str:
    """``"slice"`` when edit k's only non-zero is component d_0 + k, ``"gather"`` when each edit has one non-zero,
    else ``"scatter"`` (XLA on a CPU gathers and scatters element by element; a slice is a copy)."""
    if not np.array_equal(k_E, np.arange(n_edits)) or n_edits == 0:
        return "scatter"
    return "slice" if np.array_equal(d_E, d_E[0] + np.arange(n_edits)) else "gather"


def _affine_parts(lens: Lens, hook: str, sigma_BN: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """log ψ ``(B,)`` and the (B, D) coefficients A = Σ_rest J·h, B = Σ_rest J of the affine read-out."""
    log_psi_B, cache = lens.run_with_cache(sigma_BN, [hook])
    h = cache[hook]

    def part(select):
        return lambda x: jnp.sum(select(lens.run_with_hooks(sigma_BN, {hook: lambda _: x})))

    jac = jax.grad(part(jnp.real))(h)
    if jnp.iscomplexobj(log_psi_B):
        jac = jac + 1j * jax.grad(part(jnp.imag))(h)
    middle = tuple(range(1, h.ndim - 1))
    return log_psi_B, jnp.sum(jac * h, axis=middle), jnp.sum(jac, axis=middle)


def affine_edits(lens: Lens, hook: str, sigma_BN: jax.Array, edits: Any) -> jax.Array:
    """log ψ of configurations ``(B, N)`` under K edits ``h ↦ h · scale_k + shift_k`` of site ``hook``, shape
    ``(B, K)``; ``edits`` a stacked ``HookEdit`` (two dense products) or ``SparseEdits`` (the non-zeros, placed
    as their ``layout`` says); valid only where ``readout_is_affine`` holds."""
    log_psi_B, a_BD, b_BD = _affine_parts(lens, hook, sigma_BN)
    if isinstance(edits, SparseEdits):
        out_BK = jnp.broadcast_to(log_psi_B[:, None], (log_psi_B.shape[0], edits.n_edits))
        for layout, k, d, v, coefficients_BD in ((edits.scale_layout, edits.k_E, edits.d_E, edits.v_E, a_BD),
                                                 (edits.shift_layout, edits.k_F, edits.d_F, edits.w_F, b_BD)):
            if layout == "slice":
                out_BK = out_BK + jax.lax.dynamic_slice_in_dim(coefficients_BD, d[0], edits.n_edits, axis=1) * v
            elif layout == "gather":
                out_BK = out_BK + jnp.take(coefficients_BD, d, axis=1) * v
            else:
                out_BK = out_BK.at[:, k].add(jnp.take(coefficients_BD, d, axis=1) * v)
        return out_BK
    return log_psi_B[:, None] + a_BD @ (edits.scale - 1).T + b_BD @ edits.shift.T
