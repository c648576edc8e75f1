"""Hook points and the ``Lens``: read and rewrite a model's internal activations.

Every physlens model marks its internal sites with a ``HookPoint``, an identity
module whose dotted flax path is the site's name (``hidden.pre``,
``layers.0.post``, ``layers.1.attn.out``, ``out``). A ``Lens`` wraps a model and
its variables and, using ``flax.linen.intercept_methods`` (so no model code is
copied or patched), either captures sites or replaces their values::

    lens = Lens(model, variables)
    log_psi_B, cache = lens.run_with_cache(sigma_BN, ["hidden.post"])
    ablated_B = lens.run_with_hooks(sigma_BN, {"hidden.post": lambda h: h.at[..., 3].set(0.0)})

Both are pure functions of their inputs and can be ``jax.jit``-ed or
``jax.vmap``-ed over the parameters of the hook functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import flax.linen as nn
import jax

from physlens.errors import PhyslensError

HookFn = Callable[[jax.Array], jax.Array]


class HookPoint(nn.Module):
    """Identity module marking a named site; its name is ``".".join(self.path)``."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return x


def hook_name(module: nn.Module) -> str:
    """The dotted name of a bound ``HookPoint`` (its flax path joined by dots)."""
    return ".".join(str(p) for p in module.path)


def list_hook_points(model: nn.Module, variables: Any, x: jax.Array) -> list[str]:
    """Names of every hook point a forward pass on ``x`` goes through, in call order."""
    seen: list[str] = []

    def record(next_fun, args, kwargs, context):
        if isinstance(context.module, HookPoint) and context.method_name == "__call__":
            seen.append(hook_name(context.module))
        return next_fun(*args, **kwargs)

    with nn.intercept_methods(record):
        jax.eval_shape(lambda v, s: model.apply(v, s), variables, x)
    return seen


@dataclass(frozen=True)
class Lens:
    """A model with its variables, opened at its hook points.

    Attributes:
        model: a flax module whose internal sites are ``HookPoint``s.
        variables: the model's variables (``{"params": ...}``).
    """

    model: nn.Module
    variables: Any

    def hook_points(self, x: jax.Array) -> list[str]:
        """The hook point names reached on input ``x`` (any batch shape)."""
        return list_hook_points(self.model, self.variables, x)

    def _apply(self, x: jax.Array, interceptor) -> jax.Array:
        with nn.intercept_methods(interceptor):
            return self.model.apply(self.variables, x)

    def run_with_cache(self, x: jax.Array, names: Iterable[str]) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Run the model on ``x`` (shape ``(..., N)``) and capture the named sites.

        Returns the output (log ψ, shape ``(...)``) and ``{name: activation}``.
        Raises ``PhyslensError`` when a name is not a hook point of the model.
        """
        wanted = set(names)
        cache: dict[str, jax.Array] = {}

        def capture(next_fun, args, kwargs, context):
            out = next_fun(*args, **kwargs)
            if isinstance(context.module, HookPoint) and hook_name(context.module) in wanted:
                cache[hook_name(context.module)] = out
            return out

        out = self._apply(x, capture)
        self._check_names(wanted, set(cache), x)
        return out, cache

    def run_with_hooks(self, x: jax.Array, hooks: Mapping[str, HookFn]) -> jax.Array:
        """Run the model on ``x`` with each named site's value replaced by ``fn(value)``."""
        fired: set[str] = set()

        def rewrite(next_fun, args, kwargs, context):
            out = next_fun(*args, **kwargs)
            if isinstance(context.module, HookPoint):
                name = hook_name(context.module)
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
            allowed = ", ".join(self.hook_points(x))
            raise PhyslensError(f"unknown hook point(s) {', '.join(sorted(missing))}; this model has: {allowed}")
