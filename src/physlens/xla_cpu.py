"""The XLA CPU option physlens sets before JAX starts: elementwise fusions through YNNPACK.

XLA's CPU backend compiles an elementwise fusion that writes an array with LLVM, which on
this project's machines evaluates ``exp`` and ``log1p`` one element at a time; the same
functions feeding a reduction go through YNNPACK, vectorised, 5–8× faster (BENCHMARKS.md,
"The exact evaluator against its floor"). Materialising every unit's ``log cosh`` over a
basis — what an all-unit ablation needs — pays the slow path. ``use_library_fusions()``
adds elementwise fusions to the ones XLA hands to YNNPACK by default (dot, reduce); the
results agree with NumPy's to the same few ulp as XLA's own loops.

Two ways in, both only for the jaxlib versions the option was checked on (an unknown flag
stops XLA): ``use_library_fusions()`` edits ``XLA_FLAGS`` when physlens is imported, which
holds for the whole process if that comes before the first JAX computation (the CLI; not
after ``import netket``, which starts JAX); ``library_fusion_options()`` gives the same
option as ``jax.jit(..., compiler_options=...)`` for the computations that need it most (the
exact evaluator), whatever was imported first. A user who sets
``xla_cpu_experimental_ynn_fusion_type`` in ``XLA_FLAGS`` keeps their choice; to turn this
off::

    XLA_FLAGS=--xla_cpu_experimental_ynn_fusion_type=LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE
"""

from __future__ import annotations

import os
from importlib import metadata

YNN_OPTION = "xla_cpu_experimental_ynn_fusion_type"
YNN_FUSIONS = ("LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT", "LIBRARY_FUSION_TYPE_ELTWISE", "LIBRARY_FUSION_TYPE_REDUCE")
"""XLA's default (dot, reduce) plus elementwise fusions."""

CHECKED_JAXLIB = ((0, 10), (0, 11))
"""jaxlib versions [from, to) on which the option exists and the test suite passes with it."""

_OURS = f"--{YNN_OPTION}={','.join(YNN_FUSIONS)}"


def jaxlib_version() -> tuple[int, int] | None:
    """(major, minor) of the installed jaxlib, None when it is not installed or unreadable."""
    try:
        major, minor = metadata.version("jaxlib").split(".")[:2]
        return int(major), int(minor)
    except (metadata.PackageNotFoundError, ValueError):
        return None


def _checked() -> bool:
    version = jaxlib_version()
    return version is not None and CHECKED_JAXLIB[0] <= version < CHECKED_JAXLIB[1]


def use_library_fusions(environ: dict | None = None) -> bool:
    """Add the YNNPACK fusion option to ``XLA_FLAGS`` in ``environ`` (default ``os.environ``) unless the user set
    it or the jaxlib version is unchecked; True when it added the option."""
    environ = os.environ if environ is None else environ
    flags = environ.get("XLA_FLAGS", "")
    if YNN_OPTION in flags or not _checked():
        return False
    environ["XLA_FLAGS"] = f"{flags} {_OURS}".strip()
    return True


def library_fusion_options() -> dict[str, str]:
    """``compiler_options`` for ``jax.jit`` with the same option (empty on an unchecked jaxlib, or when the user
    chose the option in ``XLA_FLAGS``)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if (YNN_OPTION in flags and _OURS not in flags) or not _checked():
        return {}
    return {YNN_OPTION: ",".join(YNN_FUSIONS)}
