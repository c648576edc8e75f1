"""Pruning masks: a validated 0/1 pytree over a model's parameters.

A ``Mask`` mirrors a parameter pytree leaf for leaf (True keeps a weight, False
prunes it) and knows which leaves are *prunable*; the others are all True. Leaves
are named by their path, the pytree keys joined by ``/`` (``layers.0/kernel``,
``hidden/bias``). Masks are frozen and check their own invariants, so a pruning
routine can only hand back a mask that fits::

    mask = Mask.ones_like(params)                 # kernels prunable, biases kept
    pruned = mask.replace({"layers.0/kernel": keep_NM})
    pruned.density, pruned.to_frame()
    sparse_params = pruned.apply(params)
    pruned.save("ticket.npz"); Mask.load("ticket.npz", like=params) == pruned

``stack_masks`` puts K masks of the same model on a leading axis for a
``jax.vmap``-ed forward pass or training step; ``unstack_masks`` undoes it.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.runs import atomic_write_bytes

WEIGHT_NAMES = ("kernel", "weight", "weights")
"""Leaf names that ``is_weight`` treats as prunable."""

_PATHS_KEY = "__paths__"
_PRUNABLE_KEY = "__prunable__"


def _key_name(key: Any) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def leaf_paths(tree: Any) -> list[str]:
    """Path of every leaf of ``tree`` in flattening order, keys joined by ``/``."""
    paths = []
    for keypath, _ in jax.tree_util.tree_flatten_with_path(tree)[0]:
        names = [_key_name(k) for k in keypath]
        bad = [n for n in names if "/" in n]
        if bad:
            raise PhyslensError(f"pytree key {bad[0]!r} contains '/'; allowed: keys without '/'")
        paths.append("/".join(names))
    return paths


def is_weight(path: str) -> bool:
    """Default prunability: a leaf named ``kernel``, ``weight`` or ``weights`` (biases are kept)."""
    return path.rsplit("/", 1)[-1] in WEIGHT_NAMES


def _as_keep(value: Any, path: str) -> np.ndarray:
    """``value`` as a read-only boolean array, else ``PhyslensError`` (only 0/1 allowed)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise PhyslensError(f"mask leaf {path!r} has dtype {arr.dtype}; allowed: bool, integer or float 0/1 values")
    if not np.all((arr == 0) | (arr == 1)):
        raise PhyslensError(f"mask leaf {path!r} holds values other than 0 and 1; allowed: 0/1 only")
    keep = arr.astype(bool)
    keep.setflags(write=False)
    return keep


@dataclass(frozen=True, eq=False)
class Mask:
    """A 0/1 mask over a parameter pytree, validated on construction.

    Attributes:
        tree: pytree of read-only boolean NumPy arrays (True = kept) with the structure
            and shapes of the parameters it masks; given as 0/1 floats, ints or bools.
        prunable: leaf paths that pruning may touch (every other leaf must be all True);
            given as a predicate on leaf paths or a collection of paths, stored as a
            ``frozenset`` of paths. At least one leaf must be prunable.
    """

    tree: Any
    prunable: frozenset[str] | Callable[[str], bool] = is_weight

    def __post_init__(self):
        paths = leaf_paths(self.tree)
        if not paths:
            raise PhyslensError("mask tree has no leaves; allowed: a pytree of 0/1 arrays")
        if len(set(paths)) != len(paths):
            raise PhyslensError(f"mask leaf paths are not unique: {paths}; allowed: distinct key paths")
        leaves, treedef = jax.tree_util.tree_flatten(self.tree)
        keep = [_as_keep(leaf, path) for leaf, path in zip(leaves, paths)]
        prunable = (frozenset(p for p in paths if self.prunable(p)) if callable(self.prunable)
                    else frozenset(self.prunable))
        unknown = sorted(prunable - set(paths))
        if unknown:
            raise PhyslensError(f"prunable paths {unknown} are not leaves of the mask; allowed: {paths}")
        if not sum(k.size for p, k in zip(paths, keep) if p in prunable):
            raise PhyslensError(f"no prunable weights among {paths}; allowed: a predicate or paths naming a non-empty leaf")
        for path, k in zip(paths, keep):
            if path not in prunable and not k.all():
                raise PhyslensError(f"mask leaf {path!r} is not prunable but prunes weights; allowed: all ones")
        object.__setattr__(self, "tree", jax.tree_util.tree_unflatten(treedef, keep))
        object.__setattr__(self, "prunable", prunable)

    @classmethod
    def ones_like(cls, params: Any, prunable: Callable[[str], bool] | Iterable[str] = is_weight) -> "Mask":
        """The dense mask (all kept) over ``params``; ``prunable`` picks leaves by path (default: kernels)."""
        return cls(jax.tree_util.tree_map(lambda p: np.ones(np.shape(p), dtype=bool), params), prunable)

    @property
    def paths(self) -> tuple[str, ...]:
        """Leaf paths in flattening order."""
        return tuple(leaf_paths(self.tree))

    def leaves(self) -> dict[str, np.ndarray]:
        """Leaf path → boolean keep array, in flattening order."""
        return dict(zip(self.paths, jax.tree_util.tree_leaves(self.tree)))

    @property
    def size(self) -> int:
        """Number of prunable weights (kept or not)."""
        return sum(k.size for p, k in self.leaves().items() if p in self.prunable)

    @property
    def kept(self) -> int:
        """Number of surviving prunable weights."""
        return sum(int(k.sum()) for p, k in self.leaves().items() if p in self.prunable)

    @property
    def density(self) -> float:
        """Fraction of prunable weights kept (non-prunable leaves do not count)."""
        return self.kept / self.size

    def to_frame(self) -> pd.DataFrame:
        """One row per leaf: ``path``, ``prunable``, ``size``, ``kept``, ``density``."""
        rows = [{"path": p, "prunable": p in self.prunable, "size": k.size, "kept": int(k.sum()),
                 "density": float(k.mean()) if k.size else 1.0} for p, k in self.leaves().items()]
        return pd.DataFrame(rows, columns=["path", "prunable", "size", "kept", "density"])

    def check_fits(self, params: Any, name: str = "params") -> None:
        """Raise ``PhyslensError`` unless ``params`` has this mask's leaf paths and shapes."""
        paths = leaf_paths(params)
        if paths != list(self.paths):
            raise PhyslensError(f"{name} has leaves {paths}; the mask has {list(self.paths)}")
        for path, p, k in zip(paths, jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(self.tree)):
            if np.shape(p) != k.shape:
                raise PhyslensError(f"{name} leaf {path!r} has shape {np.shape(p)}; the mask has {k.shape}")

    def apply(self, params: Any) -> Any:
        """``params`` (same structure, JAX arrays of their dtype) with pruned entries set to exactly +0."""
        self.check_fits(params)
        return jax.tree_util.tree_map(lambda p, k: jnp.where(k, p, jnp.zeros_like(p)), params,
                                      jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(params),
                                                                   jax.tree_util.tree_leaves(self.tree)))

    def to_tree(self, dtype: Any = np.float64) -> Any:
        """The mask as a pytree of 0/1 arrays of ``dtype`` (e.g. for a ``"mask"`` variable collection)."""
        return jax.tree_util.tree_map(lambda k: np.asarray(k, dtype=dtype), self.tree)

    def replace(self, leaves: Mapping[str, Any]) -> "Mask":
        """A new mask with the leaves named by path replaced (validated like any mask)."""
        current = self.leaves()
        unknown = sorted(set(leaves) - set(current))
        if unknown:
            raise PhyslensError(f"paths {unknown} are not leaves of the mask; allowed: {list(current)}")
        new = [leaves.get(p, k) for p, k in current.items()]
        for path, k in zip(current, new):
            if np.shape(k) != current[path].shape:
                raise PhyslensError(f"new leaf {path!r} has shape {np.shape(k)}; allowed: {current[path].shape}")
        return Mask(jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(self.tree), new), self.prunable)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mask):
            return NotImplemented
        mine, theirs = self.leaves(), other.leaves()
        return (list(mine) == list(theirs) and self.prunable == other.prunable
                and all(np.array_equal(mine[p], theirs[p]) for p in mine))

    def save(self, path: Path | str) -> None:
        """Write the mask atomically as ``.npz``: one boolean array per leaf path, plus the prunable paths."""
        arrays = {p: k for p, k in self.leaves().items()}
        arrays[_PATHS_KEY] = np.array(self.paths, dtype=str)
        arrays[_PRUNABLE_KEY] = np.array(sorted(self.prunable), dtype=str)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        atomic_write_bytes(Path(path), buffer.getvalue())

    @classmethod
    def load(cls, path: Path | str, like: Any = None) -> "Mask":
        """Read a mask written by ``save``; nested dicts by path, or the structure of ``like`` (a pytree or mask)."""
        path = Path(path)
        like = like.tree if isinstance(like, Mask) else like
        if not path.is_file():
            raise PhyslensError(f"mask file {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as npz:
                paths = [str(p) for p in npz[_PATHS_KEY]]
                prunable = frozenset(str(p) for p in npz[_PRUNABLE_KEY])
                arrays = {p: npz[p] for p in paths}
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise PhyslensError(f"{path} is not a physlens mask file: {type(exc).__name__}: {exc}") from None
        if like is None:
            tree: dict = {}
            for p in paths:
                *parents, name = p.split("/")
                node = tree
                for parent in parents:
                    node = node.setdefault(parent, {})
                node[name] = arrays[p]
            return cls(tree, prunable)
        if leaf_paths(like) != paths:
            raise PhyslensError(f"{path} has leaves {paths}; like has {leaf_paths(like)}")
        leaves = [arrays[p] for p in paths]
        return cls(jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(like), leaves), prunable)


def stack_masks(masks: Sequence[Mask], dtype: Any = np.float64) -> Any:
    """K masks of one model as one pytree of 0/1 arrays of ``dtype``, each leaf ``(K, *shape)``."""
    if not masks:
        raise PhyslensError("stack_masks got no masks; allowed: one or more masks of the same model")
    first = masks[0]
    for i, m in enumerate(masks[1:], start=1):
        if m.paths != first.paths or m.prunable != first.prunable:
            raise PhyslensError(f"mask {i} has leaves {list(m.paths)}; mask 0 has {list(first.paths)}; allowed: masks of one model")
        first.check_fits(m.tree, name=f"mask {i}")
    return jax.tree_util.tree_map(lambda *ks: np.stack(ks).astype(dtype), *[m.tree for m in masks])


def unstack_masks(stacked: Any, template: Mask) -> list[Mask]:
    """Split a ``stack_masks`` pytree (leaves ``(K, *shape)``) back into K masks like ``template``."""
    leaves = jax.tree_util.tree_leaves(stacked)
    if leaf_paths(stacked) != list(template.paths):
        raise PhyslensError(f"stacked masks have leaves {leaf_paths(stacked)}; the template has {list(template.paths)}")
    counts = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in leaves}
    if len(counts) != 1 or None in counts:
        raise PhyslensError(f"stacked mask leaves have leading sizes {sorted(counts, key=str)}; allowed: one shared K axis")
    treedef = jax.tree_util.tree_structure(template.tree)
    masks = [Mask(jax.tree_util.tree_unflatten(treedef, [np.asarray(leaf[i]) for leaf in leaves]), template.prunable)
             for i in range(counts.pop())]
    for i, m in enumerate(masks):
        template.check_fits(m.tree, name=f"stacked mask {i}")
    return masks
