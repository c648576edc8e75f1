"""Provenance: which libraries, host, device and XLA flags a number was computed with.

Every run folder (``versions.json``, ``sittings.jsonl``) and study folder (``study.json``) records
them, so that a figure can be traced to the software that made it and a resumed computation shows
where each part ran.

Usage::

    library_versions()     # {"python": "3.11.2", "physlens": "0.1.0", "netket": "3.23.0", ...}
    this_sitting()         # {"started": "2026-12-04T20:41:00+00:00", "host": ..., "device": ..., "cpu_cores": 1, ...}
"""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from importlib import metadata

VERSIONED_PACKAGES = ("physlens", "netket", "jax", "jaxlib", "flax", "optax", "numpy", "scipy")
"""The libraries a run's numbers depend on."""


def this_sitting() -> dict:
    """When and where this process runs: UTC start time, host, library versions, the JAX device, the
    ``XLA_FLAGS`` it runs under (sampled training over thousands of steps is reproduced bit for bit only under
    the same ones: the thread count changes the order of XLA's sums) and the CPU cores it may run on (its
    affinity: ``taskset -c 1 physlens …`` records 1), without which a wall time per step cannot be read."""
    import jax

    device = jax.devices()[0]
    return {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "host": platform.node(),
            "versions": library_versions(), "device": f"{device.platform}: {device.device_kind}",
            "xla_flags": os.environ.get("XLA_FLAGS", ""), "cpu_cores": len(os.sched_getaffinity(0))}


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries a run's numbers depend on."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
