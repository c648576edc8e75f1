"""Interventions as data: small frozen dataclasses that rewrite one hook point.

Every intervention here is an affine map of the hook's last axis (width D),
``h ↦ h · scale_D + shift_D``:

- ``Identity(hook)``: scale 1, shift 0 (the un-intervened model);
- ``Ablate(hook, units, value=0)``: scale 0 and shift ``value`` on ``units`` (0 removes
  them; a constant; a mean, see ``mean_ablation``);
- ``KeepOnly(hook, units)``: scale 1 on ``units``, 0 on every other component;
- ``Scale(hook, units, factor)``: scale ``factor`` on ``units``;
- ``Clamp(hook, units, value)``: scale 0 and shift ``value`` on ``units``;
- ``AddDirection(hook, direction, alpha)``: shift α · direction (length D);

so any K of them on the same hook, of any kinds, ``stack`` into one ``HookEdit``
whose arrays carry a leading K axis and apply under ``jax.vmap``.
``LensLogPsi`` turns a ``Lens`` into the function ``(sigma_BN, edit) ↦ log ψ_B``
the evaluators batch over::

    edits = stack(single_unit_ablations("hidden.post", 16), 16)   # scale (16, 16) = 1 − I
    log_psi = LensLogPsi(lens)
    log_psi_KB = jax.vmap(lambda e: log_psi(sigma_BN, e))(edits)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from physlens.errors import PhyslensError
from physlens.lens.affine import affine_edits, readout_is_affine
from physlens.lens.hooks import Lens


@partial(jax.tree_util.register_dataclass, data_fields=["scale", "shift"], meta_fields=["hook"])
@dataclass(frozen=True)
class HookEdit:
    """The affine edit ``h ↦ h · scale + shift`` of hook ``hook``'s last axis.

    Attributes:
        hook: name of the hook point.
        scale: per-component factor, shape ``(D,)``, or ``(K, D)`` for K stacked edits.
        shift: per-component offset (same shape as ``scale``), in the units of the activation.
    """

    hook: str
    scale: jax.Array
    shift: jax.Array

    def __call__(self, acts: jax.Array) -> jax.Array:
        """Apply the edit to an activation of shape ``(..., D)``."""
        return acts * self.scale + self.shift


def _units(units: Sequence[int] | int) -> tuple[int, ...]:
    return (int(units),) if np.ndim(units) == 0 else tuple(int(u) for u in np.ravel(units))


def _values(value, n: int, what: str) -> tuple[float, ...] | float:
    if np.ndim(value) == 0:
        return float(value)
    values = tuple(float(v) for v in np.ravel(value))
    if len(values) != n:
        raise PhyslensError(f"{what} has {len(values)} entries; give one number or one per unit ({n})")
    return values


@dataclass(frozen=True)
class Intervention:
    """Base class: an affine rewrite of one hook point (subclasses set the arrays).

    Attributes:
        hook: name of the hook point it acts on.
    """

    hook: str

    @property
    def label(self) -> str:
        """Short human-readable description, e.g. ``ablate hidden.post[3]``."""
        return f"identity {self.hook}"

    def edit(self, width: int) -> HookEdit:
        """The edit as arrays for a hook of width D = ``width``: scale, shift of shape ``(D,)``."""
        scale_D, shift_D = np.ones(width), np.zeros(width)
        self._fill(scale_D, shift_D)
        return HookEdit(self.hook, jnp.asarray(scale_D), jnp.asarray(shift_D))

    def _fill(self, scale_D: np.ndarray, shift_D: np.ndarray) -> None:
        """Write this intervention's scale and shift into the identity arrays (in place)."""

    def _check_units(self, units: tuple[int, ...], width: int) -> None:
        bad = [u for u in units if not 0 <= u < width]
        if bad:
            raise PhyslensError(f"unit(s) {bad} out of range for hook {self.hook} of width {width}; allowed 0..{width - 1}")


@dataclass(frozen=True)
class Identity(Intervention):
    """Leaves the hook unchanged (the un-intervened model)."""


@dataclass(frozen=True)
class _UnitIntervention(Intervention):
    units: tuple[int, ...] = field(default=())

    def __post_init__(self):
        object.__setattr__(self, "units", _units(self.units))

    def _where(self) -> str:
        return f"{self.hook}[{','.join(map(str, self.units))}]"


@dataclass(frozen=True)
class Ablate(_UnitIntervention):
    """Sets the components ``units`` to ``value`` (0: removal; a constant; a mean, see ``mean_ablation``).

    Attributes:
        units: indices along the hook's last axis.
        value: one number for all units, or one per unit (units of the activation).
    """

    value: float | tuple[float, ...] = 0.0

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "value", _values(self.value, len(self.units), f"{type(self).__name__} value"))

    @property
    def label(self) -> str:
        """Short description, e.g. ``ablate hidden.post[3]`` (``=value`` appended when it is not 0)."""
        return f"ablate {self._where()}" + ("" if self.value == 0.0 else f"={self.value}")

    def _fill(self, scale_D, shift_D):
        self._check_units(self.units, scale_D.size)
        scale_D[list(self.units)] = 0.0
        shift_D[list(self.units)] = self.value


@dataclass(frozen=True)
class KeepOnly(_UnitIntervention):
    """Keeps the components ``units`` and sets every other component to 0.

    Attributes:
        units: indices along the hook's last axis that are kept (may be empty).
    """

    @property
    def label(self) -> str:
        """Short description, e.g. ``keep-only hidden.post[0,1]``."""
        return f"keep-only {self._where()}"

    def _fill(self, scale_D, shift_D):
        self._check_units(self.units, scale_D.size)
        scale_D[:] = 0.0
        scale_D[list(self.units)] = 1.0


@dataclass(frozen=True)
class Scale(_UnitIntervention):
    """Multiplies the components ``units`` by ``factor``.

    Attributes:
        units: indices along the hook's last axis.
        factor: the multiplier (dimensionless).
    """

    factor: float = 1.0

    @property
    def label(self) -> str:
        """Short description, e.g. ``scale hidden.post[3]x2``."""
        return f"scale {self._where()}x{self.factor:g}"

    def _fill(self, scale_D, shift_D):
        self._check_units(self.units, scale_D.size)
        scale_D[list(self.units)] = self.factor


@dataclass(frozen=True)
class Clamp(Ablate):
    """Fixes the components ``units`` to ``value`` whatever the input (the same map as ``Ablate``
    with a non-zero value; named for what it is meant to do).

    Attributes:
        units: indices along the hook's last axis.
        value: one number for all units, or one per unit (units of the activation).
    """

    @property
    def label(self) -> str:
        """Short description, e.g. ``clamp hidden.post[3]=0.5``."""
        return f"clamp {self._where()}={self.value}"


@dataclass(frozen=True)
class AddDirection(Intervention):
    """Adds ``alpha · direction`` to the activation (steering).

    Attributes:
        direction: a vector of length D (stored as a tuple of floats).
        alpha: its coefficient (units of the activation per unit of direction).
    """

    direction: tuple[float, ...] = ()
    alpha: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "direction", tuple(float(v) for v in np.ravel(self.direction)))

    @property
    def label(self) -> str:
        """Short description, e.g. ``add 0.5·direction hidden.post``."""
        return f"add {self.alpha:g}·direction {self.hook}"

    def _fill(self, scale_D, shift_D):
        if len(self.direction) != shift_D.size:
            raise PhyslensError(f"direction has length {len(self.direction)}; hook {self.hook} has width {shift_D.size}")
        shift_D[:] = self.alpha * np.asarray(self.direction)


def mean_ablation(hook: str, units: Sequence[int], acts_BD: np.ndarray, weights_B: np.ndarray | None = None) -> Ablate:
    """``Ablate`` setting each unit to its mean activation over a batch ``acts_BD``.

    ``weights_B`` (e.g. Born weights |ψ(σ)|², any normalisation) makes it a weighted mean;
    None gives the plain mean over the B configurations.
    """
    acts_BD = np.asarray(acts_BD)
    units = _units(units)
    if acts_BD.ndim != 2:
        raise PhyslensError(f"acts_BD must have shape (B, D); got {acts_BD.shape}")
    weights_B = np.ones(acts_BD.shape[0]) if weights_B is None else np.asarray(weights_B, dtype=float)
    if weights_B.shape != acts_BD.shape[:1] or weights_B.sum() <= 0:
        raise PhyslensError(f"weights_B must be {acts_BD.shape[:1]} non-negative numbers with a positive sum")
    mean_D = weights_B @ np.real(acts_BD) / weights_B.sum()
    return Ablate(hook, units, tuple(mean_D[list(units)]))


def stack(interventions: Sequence[Intervention], width: int) -> HookEdit:
    """Stack K interventions on one hook (of width D) into a ``HookEdit`` of shape ``(K, D)``.

    Raises ``PhyslensError`` for an empty list or interventions on different hooks.
    """
    if not interventions:
        raise PhyslensError("no interventions given; pass at least one (e.g. Identity(hook))")
    hooks = sorted({i.hook for i in interventions})
    if len(hooks) > 1:
        raise PhyslensError(f"interventions act on hooks {', '.join(hooks)}; one batch must act on a single hook")
    edits = [i.edit(width) for i in interventions]
    return HookEdit(hooks[0], jnp.stack([e.scale for e in edits]), jnp.stack([e.shift for e in edits]))


def single_unit_ablations(hook: str, n_units: int) -> tuple[Ablate, ...]:
    """The M = ``n_units`` ablations ``Ablate(hook, j)``, j = 0..M−1 (stacked: scale = 1 − I)."""
    return tuple(Ablate(hook, (j,)) for j in range(n_units))


def single_unit_retentions(hook: str, n_units: int) -> tuple[KeepOnly, ...]:
    """The M = ``n_units`` retentions ``KeepOnly(hook, j)``, j = 0..M−1 (stacked: scale = I)."""
    return tuple(KeepOnly(hook, (j,)) for j in range(n_units))


@jax.tree_util.register_pytree_node_class
@dataclass(frozen=True)
class LensLogPsi:
    """A ``Lens`` as the function ``(sigma_BN, edit) ↦ log ψ_B`` that evaluators batch over.

    It is a JAX pytree (the variables are its leaves), so evaluators pass it to
    ``jax.jit`` as an argument and the parameters are never folded in as constants.

    Attributes:
        lens: the model and its variables.
    """

    lens: Lens

    def __call__(self, sigma_BN: jax.Array, edit: HookEdit) -> jax.Array:
        """log ψ of configurations ``sigma_BN`` (``(B, N)``) with ``edit`` applied; shape ``(B,)``."""
        return self.lens.run_with_hooks(sigma_BN, {edit.hook: edit})

    def bind(self, edit: HookEdit) -> Callable[[jax.Array], jax.Array]:
        """The intervened model as a plain function ``sigma_BN ↦ log ψ_B``."""
        return lambda sigma_BN: self(sigma_BN, edit)

    def affine_in(self, hook: str, sigma_BN: jax.Array) -> bool:
        """Whether log ψ is affine in site ``hook`` (then ``edited`` batches K edits as matrix products)."""
        return readout_is_affine(self.lens, hook, sigma_BN)

    def edited(self, sigma_BN: jax.Array, hook: str, edits) -> jax.Array:
        """log ψ under each of K edits of ``hook`` (a stacked ``HookEdit`` or ``SparseEdits``), ``(B, K)``, by
        ``physlens.lens.affine``; only where ``affine_in(hook)`` holds."""
        return affine_edits(self.lens, hook, sigma_BN, edits)

    def width(self, hook: str, sigma_BN: jax.Array) -> int:
        """Width D (last-axis size) of hook ``hook`` on configurations like ``sigma_BN``."""
        _, cache = jax.eval_shape(lambda s: self.lens.run_with_cache(s, [hook]), sigma_BN)
        return int(cache[hook].shape[-1])

    def tree_flatten(self):
        return (self.lens.variables,), self.lens.model

    @classmethod
    def tree_unflatten(cls, model, children):
        return cls(Lens(model, children[0]))
