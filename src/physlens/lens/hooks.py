"""Hook points and the ``Lens``: read and rewrite a model's internal activations.

Any Flax model can be opened unchanged. Every submodule call is a *site*, named by
its module path joined with dots — ``Dense`` (the hidden pre-activations W σ + b of
NetKet's ``RBM``), ``Dense_0``, ``layers_1.attn`` — found with
``flax.linen.intercept_methods``, as nnsight and penzai open their models; no model
code is copied or patched. Activation functions that a model applies as plain
functions (``nk.nn.log_cosh``, ``nn.relu``) are not modules, so a ``Dense`` site is
the pre-activation of the layer after it. A module called more than once in one
forward pass gets ``name#1``, ``name#2``, … for its later calls.

physlens's own models also mark their sites with ``HookPoint``, an identity module
whose name is a TransformerLens-style alias (``hidden.pre``, ``hidden.post``,
``layers.0.post``, ``resid.final``, ``out``); those are sites like any other::

    lens = Lens(model, variables, example_BN=np.ones((1, N)))
    lens.hook_names()                          # every site, in call order
    log_psi_B, cache = lens.run_with_cache(sigma_BN, ["Dense"])
    ablated_B = lens.run_with_hooks(sigma_BN, {"Dense": lambda h_BM: h_BM.at[..., 3].set(0.0)})

Both are pure functions of their inputs and can be ``jax.jit``-ed or
``jax.vmap``-ed over the parameters of the hook functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import flax.linen as nn
import jax
import numpy as np

from physlens.errors import PhyslensError

HookFn = Callable[[jax.Array], jax.Array]


class HookPoint(nn.Module):
    """Identity module marking a named site; its name is ``".".join(self.path)``."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return x


def hook_name(module: nn.Module) -> str:
    """The dotted name of a bound module (its flax path joined by dots)."""
    return ".".join(str(p) for p in module.path)


class _SiteNamer:
    """Names the sites of one forward pass: the module path, with ``#k`` for a module's k-th repeat call."""

    def __init__(self):
        self.calls: dict[str, int] = {}

    def __call__(self, context) -> str | None:
        if context.method_name != "__call__" or not context.module.path:
            return None
        name = hook_name(context.module)
        count = self.calls.get(name, 0)
        self.calls[name] = count + 1
        return name if count == 0 else f"{name}#{count}"


def _trace_sites(model: nn.Module, variables: Any, x: jax.Array, keep) -> list[str]:
    namer, seen = _SiteNamer(), []

    def record(next_fun, args, kwargs, context):
        name = namer(context)
        if name is not None and keep(context):
            seen.append(name)
        return next_fun(*args, **kwargs)

    with nn.intercept_methods(record):
        jax.eval_shape(lambda v, s: model.apply(v, s), variables, x)
    return seen


def list_hook_points(model: nn.Module, variables: Any, x: jax.Array) -> list[str]:
    """Names of the ``HookPoint`` aliases a forward pass on ``x`` goes through, in call order."""
    return _trace_sites(model, variables, x, lambda context: isinstance(context.module, HookPoint))


def list_hook_names(model: nn.Module, variables: Any, x: jax.Array) -> list[str]:
    """Names of every site (module paths and ``HookPoint`` aliases) a forward pass on ``x`` reaches, in call order."""
    return _trace_sites(model, variables, x, lambda context: True)


@dataclass(frozen=True)
class Lens:
    """A model with its variables, opened at every site.

    Attributes:
        model: any flax module mapping configurations ``(..., N)`` to log ψ ``(...)``.
        variables: the model's variables (``{"params": ...}``).
        example_BN: an input the model accepts (e.g. ``ones((1, N))``), used by
            ``hook_names()`` and ``width()`` when no input is given; None: pass one.
    """

    model: nn.Module
    variables: Any
    example_BN: Any = field(default=None, compare=False, repr=False)

    def _example(self, x: jax.Array | None) -> jax.Array:
        if x is not None:
            return x
        if self.example_BN is None:
            raise PhyslensError("this Lens has no example input; pass configurations x of shape (B, N)")
        return self.example_BN

    def hook_points(self, x: jax.Array | None = None) -> list[str]:
        """The ``HookPoint`` alias names reached on input ``x`` (any batch shape)."""
        return list_hook_points(self.model, self.variables, self._example(x))

    def hook_names(self, x: jax.Array | None = None) -> list[str]:
        """Every site reached on input ``x``: module paths and ``HookPoint`` aliases, in call order."""
        return list_hook_names(self.model, self.variables, self._example(x))

    def width(self, hook: str, x: jax.Array | None = None) -> int:
        """Size D of the last axis of site ``hook`` (e.g. the number of hidden units M)."""
        _, cache = jax.eval_shape(lambda s: self.run_with_cache(s, [hook]), self._example(x))
        return int(np.shape(cache[hook])[-1])

    def _apply(self, x: jax.Array, interceptor) -> jax.Array:
        with nn.intercept_methods(interceptor):
            return self.model.apply(self.variables, x)

    def run_with_cache(self, x: jax.Array, names: Iterable[str]) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Run the model on ``x`` (shape ``(..., N)``) and capture the named sites.

        Returns the output (log ψ, shape ``(...)``) and ``{name: activation}``.
        Raises ``PhyslensError`` when a name is not a site of the model.
        """
        wanted, namer = set(names), _SiteNamer()
        cache: dict[str, jax.Array] = {}

        def capture(next_fun, args, kwargs, context):
            out = next_fun(*args, **kwargs)
            name = namer(context)
            if name in wanted:
                cache[name] = out
            return out

        out = self._apply(x, capture)
        self._check_names(wanted, set(cache), x)
        return out, cache

    def run_with_hooks(self, x: jax.Array, hooks: Mapping[str, HookFn]) -> jax.Array:
        """Run the model on ``x`` with each named site's value replaced by ``fn(value)``."""
        fired: set[str] = set()
        namer = _SiteNamer()

        def rewrite(next_fun, args, kwargs, context):
            out = next_fun(*args, **kwargs)
            name = namer(context)
            if name in hooks:
                fired.add(name)
                return hooks[name](out)
            return out

        out = self._apply(x, rewrite)
        self._check_names(set(hooks), fired, x)
        return out

    def _check_names(self, wanted: set[str], found: set[str], x: jax.Array) -> None:
        missing = wanted - found
        if missing:
            allowed = ", ".join(self.hook_names(x)) or "no sites (the model has no submodules)"
            raise PhyslensError(f"unknown hook point(s) {', '.join(sorted(missing))}; this model has: {allowed}")
