"""physlens: mechanistic interpretability of neural networks trained on physics.

The front door and the analyses::

    import physlens as pl
    m = pl.open("rbm.mpack", system="heisenberg-ring", size=10, model="netket.RBM:alpha=2")
    pl.units(m).unit_frame()
    m.evaluator().evaluate([pl.Ablate("Dense", [3]), pl.KeepOnly("Dense", [0, 1])]).to_frame()

Packages, from the bottom up (see DESIGN.md): ``lens`` (model-agnostic hooks,
interventions and analyses), ``quantum`` (spin systems, exact references,
observables, NQS ansätze, VMC training), ``nuclear`` (AME2020 data and the
nuclear regressor), ``studies`` (compositions), ``report`` (figures, HTML),
``runs`` (run directories) and ``cli`` (the ``physlens`` command). The names
below are imported on first use, so ``import physlens`` stays light.

Importing physlens switches JAX to float64, NetKet's own default, and lets XLA's CPU
backend run elementwise fusions through YNNPACK (``physlens.xla_cpu``; vectorised ``exp``
and ``log1p``), when it comes before the first JAX computation; on glibc it also keeps freed memory for
reuse instead of returning it to the kernel page by page (``physlens.allocator``; a sampled 6×6 SR step
about twice as fast, the same numbers).
"""

import importlib

from physlens.allocator import keep_freed_memory
from physlens.xla_cpu import use_library_fusions

keep_freed_memory()
use_library_fusions()

import jax  # noqa: E402  (XLA_FLAGS must be set before JAX reads it)

jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"

_EXPORTS = {
    "open": "physlens.opening", "Opened": "physlens.opening", "load_run": "physlens.opening",
    "units": "physlens.analyses", "units_report": "physlens.analyses", "sae": "physlens.analyses", "steer": "physlens.analyses",
    "prune": "physlens.analyses",
    "Lens": "physlens.lens.hooks",
    "Identity": "physlens.lens.interventions", "Ablate": "physlens.lens.interventions",
    "KeepOnly": "physlens.lens.interventions", "Scale": "physlens.lens.interventions",
    "Clamp": "physlens.lens.interventions", "AddDirection": "physlens.lens.interventions",
    "make_system": "physlens.quantum.systems", "SAEStudyConfig": "physlens.studies.sae_steering",
}
_MODULES = {"geometry": "physlens.lens.geometry", "registry": "physlens.quantum.registry"}
_RENAMED = {"LotteryConfig": ("physlens.studies.lottery", "StudyConfig")}

__all__ = sorted([*_EXPORTS, *_MODULES, *_RENAMED, "__version__"])


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    if name in _RENAMED:
        module, attr = _RENAMED[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'physlens' has no attribute {name!r}")
