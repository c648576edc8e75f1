"""The model registry: every ansatz physlens knows, built, described and opened in one place.

An entry says how to build a model from settings (physlens's own ansätze), where its
hidden units live (the site whose components are the units, and the weights that feed
them) and which sites are worth looking at first. Models physlens never saw are
described from their Flax fields, and their sites are found by module path
(``physlens.lens.hooks``), so nothing here is needed to open them — an entry only adds
defaults. The CLI, runs, the front door and the studies read this registry instead of
keeping their own tables::

    model = build_model("rbm", alpha=2)
    model = model_from_spec("netket.RBM:alpha=2,param_dtype=complex")
    entry_for(model).units_hook              # "hidden.post" for physlens's RBM and NetKet's (an alias site)
    describe(model)                          # "netket.RBM(alpha=2)"
"""

from __future__ import annotations

import dataclasses
import importlib
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np

from physlens.errors import PhyslensError, check_choice
from physlens.lens.hooks import HookPoint, Lens
from physlens.quantum.models import ACTIVATIONS, FFNN, HIDDEN_POST, HIDDEN_PRE, RBM, layer_site, log_cosh
from physlens.quantum.transformer import POOLED, POS_ENCODINGS, RESID_FINAL, Transformer, patch_indices

Weights = Callable[[Any], np.ndarray]

SAME_FUNCTION = {nk.nn.activation.log_cosh: log_cosh}
"""Activations physlens computes, for real parameters only, with its own implementation of the same formula,
|x| + log1p(e^(−2|x|)) − log 2: bit-identical outputs on real inputs (checked over 6 × 10⁵ inputs from 10⁻⁸ to
10³ and in the tests), but NetKet's version finds the sign by integer operations and runs 3.6× slower on a CPU,
which would dominate an all-unit ablation. physlens's version is wrong for complex inputs (it takes |x|)."""


def _site_activation(model: nn.Module) -> SiteActivation:
    """The model's activation wrapped in the alias sites; the faster equivalent only where parameters are real."""
    real = not jnp.issubdtype(jnp.dtype(model.param_dtype), jnp.complexfloating)
    return SiteActivation(SAME_FUNCTION.get(model.activation, model.activation) if real else model.activation)


@dataclass(frozen=True)
class SiteActivation:
    """An activation function wrapped in two alias sites, ``pre`` before it and ``post`` after it.

    Given as the ``activation`` of a model that applies its activation as a plain function (NetKet's
    ``RBM``), it names the hidden layer's sites as physlens's own RBM names them — the hooks are
    created inside the model's forward pass, so its parameters and outputs are unchanged. Frozen and
    hashable, as NetKet needs a model to be.

    Attributes:
        fn: the model's activation. pre, post: the site names.
    """

    fn: Callable
    pre: str = HIDDEN_PRE
    post: str = HIDDEN_POST

    def __call__(self, x: jax.Array) -> jax.Array:
        return HookPoint(name=self.post)(self.fn(HookPoint(name=self.pre)(x)))


def _kernel(*path: str) -> Weights:
    """``variables ↦ W_MN``: the transposed kernel at ``params/<path>`` (M units, N inputs)."""
    def weights(variables) -> np.ndarray:
        node = variables["params"]
        for key in path:
            node = node[key]
        return np.asarray(node["kernel"]).T

    return weights


@dataclass(frozen=True)
class ModelEntry:
    """What physlens knows about one model class.

    Attributes:
        name: registry name (``rbm``, ``netket.RBM``), used by ``--model`` and in run configs.
        cls: the Flax module class.
        units_hook: the site whose last-axis components are the hidden units, such that
            setting component j to 0 removes unit j exactly (None: no natural units).
        unit_weights: ``variables ↦ W_MN``, the weights feeding the units (None with no units).
        hooks: sites worth looking at first (residual streams, pooled features).
        needs_zero_activation: attribute naming the activation applied after ``units_hook``;
            the units hook holds only when that activation maps 0 to 0 (a pre-activation site).
        instrument: ``model ↦ model`` adding physlens's alias sites (same parameters, same outputs),
            applied whenever physlens opens a model of this class at its sites (None: none to add).
        key_fields: settings ``describe`` always shows, default or not (the size of the network).
    """

    name: str
    cls: type
    units_hook: str | None = None
    unit_weights: Weights | None = None
    hooks: tuple[str, ...] = ()
    needs_zero_activation: str | None = None
    instrument: Callable[[nn.Module], nn.Module] | None = None
    key_fields: tuple[str, ...] = ()

    def units(self, model: nn.Module) -> tuple[str, Weights] | None:
        """The units site and weights of ``model``, or None when it has no units whose removal is exact."""
        if self.units_hook is None:
            return None
        if self.needs_zero_activation is not None:
            act = getattr(model, self.needs_zero_activation)
            first = act[0] if isinstance(act, tuple) else act
            if first is None or float(jnp.abs(first(jnp.zeros(())))) != 0.0:
                return None
        return self.units_hook, self.unit_weights


ENTRIES: tuple[ModelEntry, ...] = (
    ModelEntry("rbm", RBM, HIDDEN_POST, _kernel("hidden"), (HIDDEN_PRE, HIDDEN_POST), key_fields=("alpha",)),
    ModelEntry("ffnn", FFNN, layer_site(0, "post"), _kernel("layers.0"), (layer_site(0, "pre"), layer_site(0, "post")),
               key_fields=("widths", "activation")),
    ModelEntry("transformer", Transformer, hooks=(RESID_FINAL, POOLED),
               key_fields=("d_model", "n_layers", "n_heads", "patch_size")),
    ModelEntry("netket.RBM", nk.models.RBM, HIDDEN_POST, _kernel("Dense"), (HIDDEN_PRE, HIDDEN_POST),
               instrument=lambda m: m.clone(activation=_site_activation(m)),
               key_fields=("alpha",)),
    ModelEntry("netket.RBMModPhase", nk.models.RBMModPhase, hooks=("Dense_0", "Dense_1"), key_fields=("alpha",)),
    ModelEntry("netket.MLP", nk.models.MLP, "MLP_0.Dense_0", _kernel("MLP_0", "Dense_0"), ("MLP_0.Dense_0",),
               needs_zero_activation="hidden_activations", key_fields=("hidden_dims",)),
    ModelEntry("netket.Jastrow", nk.models.Jastrow),
    ModelEntry("netket.GCNN", nk.models.GCNN, key_fields=("layers", "features")),
)
REGISTRY: dict[str, ModelEntry] = {e.name: e for e in ENTRIES}
MODELS = ("rbm", "ffnn", "transformer")
"""The ansätze physlens itself builds and trains."""


def entry_for(model: nn.Module) -> ModelEntry:
    """The registry entry of ``model``'s class; an entry without defaults for a class physlens never saw."""
    for entry in ENTRIES:
        if type(model) is entry.cls:
            return entry
    return ModelEntry(class_path(type(model)), type(model))


def instrumented(model: nn.Module) -> nn.Module:
    """``model`` with its registry entry's alias sites added (itself when the entry adds none, or it
    already has them)."""
    entry = entry_for(model)
    if entry.instrument is None or isinstance(getattr(model, "activation", None), SiteActivation):
        return model
    return entry.instrument(model)


def lens_of(model: nn.Module, variables: Any, example_BN: Any = None) -> Lens:
    """A ``Lens`` on ``model`` with its registry aliases (``instrumented``): how physlens opens every model."""
    return Lens(instrumented(model), variables, example_BN)


def class_path(cls: type) -> str:
    """``package.module:Class`` of a class."""
    return f"{cls.__module__}:{cls.__qualname__}"


def describe(model: nn.Module) -> str:
    """The model's name, its key settings and the other fields that differ from their defaults, e.g.
    ``netket.RBM(alpha=2)``."""
    entry, fields = entry_for(model), []
    for f in dataclasses.fields(model):
        if f.name in ("parent", "name") or not f.init:
            continue
        value = getattr(model, f.name)
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.name in entry.key_fields or f.default is dataclasses.MISSING or _differs(value, default):
            fields.append(f"{f.name}={_short(value)}")
    return f"{entry.name}({', '.join(fields)})"


def _differs(value, default) -> bool:
    try:
        return bool(value != default)
    except (ValueError, TypeError):
        return value is not default


def _short(value) -> str:
    if isinstance(value, type):
        try:
            return np.dtype(value).name
        except TypeError:
            return value.__name__
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    return repr(value)


def n_parameters(variables: Any) -> int:
    """Number of real parameters in ``variables["params"]`` (a complex number counts as two)."""
    leaves = [np.asarray(v) for v in jax.tree_util.tree_leaves(variables.get("params", variables))]
    return int(sum(v.size * (2 if np.iscomplexobj(v) else 1) for v in leaves))


def build_model(name: str, *, alpha: float = 2.0, widths: tuple[int, ...] = (16,), activation: str = "relu",
                lattice_shape: tuple[int, ...] | None = None, patch_size: int = 2, d_model: int = 16,
                n_layers: int = 1, n_heads: int = 2, pos_encoding: str = "learned") -> nn.Module:
    """Build one of physlens's ansätze by name: ``rbm`` (uses ``alpha``), ``ffnn`` (``widths``,
    ``activation``) or ``transformer`` (``lattice_shape``, ``patch_size``, ``d_model``, ``n_layers``,
    ``n_heads``, ``pos_encoding``; see ``physlens.quantum.transformer.Transformer``)."""
    check_choice("model", name, MODELS)
    if name == "rbm":
        if not alpha > 0:
            raise PhyslensError(f"RBM hidden-unit density alpha must be > 0; got {alpha}")
        return RBM(alpha=alpha)
    if name == "transformer":
        check_choice("pos_encoding", pos_encoding, POS_ENCODINGS)
        if min(d_model, n_layers, n_heads) < 1 or d_model % n_heads:
            raise PhyslensError(f"transformer needs d_model, n_layers, n_heads >= 1 and d_model a multiple of "
                                f"n_heads; got d_model={d_model}, n_layers={n_layers}, n_heads={n_heads}")
        shape = None if lattice_shape is None else tuple(int(s) for s in lattice_shape)
        if shape is not None:
            patch_indices(shape, patch_size)
        return Transformer(lattice_shape=shape, patch_size=patch_size, d_model=d_model, n_layers=n_layers,
                           n_heads=n_heads, pos_encoding=pos_encoding)
    check_choice("activation", activation, ACTIVATIONS)
    if not widths or min(widths) < 1:
        raise PhyslensError(f"FFNN widths must be one or more positive integers; got {list(widths)}")
    return FFNN(widths=tuple(int(w) for w in widths), activation=activation)


DTYPES = {"float": jnp.float64, "float64": jnp.float64, "float32": jnp.float32,
          "complex": jnp.complex128, "complex128": jnp.complex128, "complex64": jnp.complex64}


def parse_kwargs(text: str) -> dict:
    """``"alpha=2,param_dtype=complex,hidden_dims=[8, 8]"`` → keyword arguments (TOML values; bare words
    are strings; lists become tuples; ``param_dtype`` names a dtype: float, float32, complex, complex64)."""
    kwargs: dict[str, Any] = {}
    for item in _split_top_level(text):
        if "=" not in item:
            raise PhyslensError(f"model argument {item!r} must look like NAME=VALUE (e.g. alpha=2)")
        key, raw = (s.strip() for s in item.split("=", 1))
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        if key == "param_dtype":
            check_choice("param_dtype", str(value), list(DTYPES))
            value = DTYPES[str(value)]
        kwargs[key] = tuple(value) if isinstance(value, list) else value
    return kwargs


def _split_top_level(text: str) -> list[str]:
    items, depth, current = [], 0, ""
    for ch in text:
        depth += (ch in "[{") - (ch in "]}")
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += ch
    return [i.strip() for i in items + [current] if i.strip()]


def model_from_spec(spec: str) -> nn.Module:
    """A model from ``NAME[:k=v,...]`` — a registry name (``rbm``, ``netket.RBM``, ``netket.MLP``, …)
    — or ``package.module:Class[:k=v,...]`` for a user's own Flax module."""
    head, _, rest = spec.partition(":")
    if head in MODELS:
        return build_model(head, **parse_kwargs(rest))
    if head in REGISTRY:
        return _construct(REGISTRY[head].cls, spec, parse_kwargs(rest))
    if not rest:
        raise PhyslensError(f"unknown model {spec!r}; give one of {', '.join(REGISTRY)} (with :k=v,...) "
                            "or package.module:Class[:k=v,...]")
    class_name, _, args = rest.partition(":")
    try:
        cls = getattr(importlib.import_module(head), class_name)
    except (ImportError, AttributeError) as exc:
        raise PhyslensError(f"cannot import model {head}:{class_name} ({exc}); give package.module:Class") from None
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise PhyslensError(f"{head}:{class_name} is not a flax.linen Module class")
    return _construct(cls, spec, parse_kwargs(args))


def load_variables(model: nn.Module, path: Path, n_sites: int) -> Any:
    """The variables of ``model`` from a flax msgpack file (``to_bytes`` of the variables, as NetKet's ``JsonLog``
    writes its ``.mpack``, or of a whole variational state), checked leaf by leaf against ``model`` on ``n_sites``."""
    path = Path(path)
    try:
        raw = flax.serialization.msgpack_restore(path.read_bytes())
    except OSError as exc:
        raise PhyslensError(f"cannot read {path}: {exc.strerror}") from None
    except Exception as exc:  # msgpack raises several unrelated types on garbage
        raise PhyslensError(f"{path} is not a flax msgpack file ({type(exc).__name__})") from None
    raw = raw.get("variables", raw) if isinstance(raw, dict) else raw
    if not isinstance(raw, dict):
        raise PhyslensError(f"{path} holds no variables (a {type(raw).__name__})")
    if "params" not in raw:
        raw = {"params": raw}
    try:
        template = model.init(jax.random.PRNGKey(0), np.ones((1, n_sites)))
    except Exception as exc:  # a user's module can fail in any way on a wrong input size
        raise PhyslensError(f"{describe(model)} cannot take {n_sites} sites: {type(exc).__name__}: "
                            f"{exc}".splitlines()[0]) from None
    want, have = _shapes(template), _shapes(raw)
    if want != have:
        diff = sorted(set(want.items()) ^ set(have.items()))[0][0]
        raise PhyslensError(f"{path} does not fit {describe(model)}: {diff} is {have.get(diff, 'missing')} in the file, "
                            f"{want.get(diff, 'absent')} in the model; check the model and the system size")
    return flax.serialization.from_state_dict(template, raw)


def _shapes(tree) -> dict[str, tuple]:
    return {"/".join(str(getattr(k, "key", k)) for k in p): np.shape(v) for p, v in jax.tree_util.tree_leaves_with_path(tree)}


def _construct(cls: type, spec: str, kwargs: dict) -> nn.Module:
    allowed = [f.name for f in dataclasses.fields(cls) if f.init and f.name not in ("parent", "name")]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise PhyslensError(f"model {spec!r}: unknown argument(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise PhyslensError(f"model {spec!r} cannot be built: {exc}") from None
