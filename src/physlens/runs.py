"""Run directories: config, parameters, metrics, status, versions, exact reference.

A run directory holds

    config.toml        what was asked for (kind, system, model, training settings)
    versions.json      Python and library versions, written once at creation
    reference.json     the exact reference the run is measured against
    metrics.jsonl      one JSON object per logged step
    checkpoint.msgpack everything needed to resume (parameters, optimiser and sampler state)
    params.msgpack     the final variables
    status.json        state (running, interrupted, converged, finished, failed), step, message

Every file is written atomically (temporary file in the same folder, then rename),
so a killed process leaves each file either old or new, never half-written.
``Run.load(path)`` also rebuilds what the run was trained on, by asking the
domain module named in its config (``kind``) to restore it.

Usage::

    run = Run.load("runs/ring8")
    run.system, run.model, run.variables, run.metrics()
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import platform
import shutil
import tempfile
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import flax.serialization
import pandas as pd
import tomli_w

from physlens.errors import PhyslensError

STATES = ("running", "interrupted", "converged", "finished", "failed")
KIND_MODULES = {"nqs": "physlens.quantum.train", "nuclear": "physlens.nuclear.train"}
"""Which module restores a run of each kind: it defines ``restore(run) -> (system, model, variables)``."""

_UMASK = os.umask(0)
os.umask(_UMASK)

VERSIONED_PACKAGES = ("physlens", "netket", "jax", "jaxlib", "flax", "optax", "numpy", "scipy")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode())


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries a run's numbers depend on."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def read_toml(path: Path | str, allowed: str = "") -> dict:
    """The table of a TOML config file; ``PhyslensError`` (one line, ending in ``allowed`` when given)
    if the file is missing or is not valid TOML."""
    path = Path(path)
    hint = f"; allowed: {allowed}" if allowed else ""
    if not path.is_file():
        raise PhyslensError(f"config file {path} does not exist{hint}")
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PhyslensError(f"config file {path} is not valid TOML: {exc}") from None


def dataclass_from_dict(cls, values: dict):
    """Build the config dataclass ``cls`` from a plain dict (a TOML table): unknown keys are a
    one-line error, and lists (TOML arrays) become tuples."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise PhyslensError(f"unknown config key(s) {', '.join(unknown)}; allowed: {', '.join(names)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _drop_none(d: dict) -> dict:
    return {k: (_drop_none(v) if isinstance(v, dict) else list(v) if isinstance(v, tuple) else v)
            for k, v in d.items() if v is not None}


@dataclass
class Run:
    """A run directory, and once loaded, what it was trained on.

    Attributes:
        path: the run directory.
        config: the parsed ``config.toml``.
        system: the physical system (set by ``Run.load``).
        model: the Flax module (set by ``Run.load``).
        variables: the trained (or last checkpointed) variables (set by ``Run.load``).
    """

    path: Path
    config: dict
    system: Any = field(default=None, repr=False)
    model: Any = field(default=None, repr=False)
    variables: Any = field(default=None, repr=False)

    @classmethod
    def create(cls, path: Path | str, config: dict, reference: dict) -> "Run":
        """Make a new run directory, complete or not at all (built aside, then renamed into place);
        refuses a folder that already holds files."""
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise PhyslensError(f"run directory {path} already exists and is not empty; choose a new --out or use --resume {path}")
        config = _drop_none(config)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
        try:
            staged = cls(staging, config)
            atomic_write_text(staging / "config.toml", tomli_w.dumps(config))
            atomic_write_text(staging / "versions.json", json.dumps(library_versions(), indent=2))
            atomic_write_text(staging / "reference.json", json.dumps(reference, indent=2))
            atomic_write_text(staging / "metrics.jsonl", "")
            staged.write_status("running", step=0)
            os.chmod(staging, 0o777 & ~_UMASK)
            os.replace(staging, path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return cls(path, config)

    @classmethod
    def open(cls, path: Path | str) -> "Run":
        """Open an existing run directory (config only); one-line error when missing or corrupt."""
        path = Path(path)
        if not path.is_dir():
            raise PhyslensError(f"run directory {path} does not exist")
        config_file = path / "config.toml"
        if not config_file.is_file():
            raise PhyslensError(f"{path} is not a physlens run: config.toml is missing")
        try:
            config = tomllib.loads(config_file.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise PhyslensError(f"{config_file} is corrupt: {exc}") from None
        if config.get("kind") not in KIND_MODULES:
            raise PhyslensError(f"{config_file} has kind {config.get('kind')!r}; allowed: {', '.join(KIND_MODULES)}")
        return cls(path, config)

    @classmethod
    def load(cls, path: Path | str) -> "Run":
        """Open a run and restore its system, model and variables."""
        run = cls.open(path)
        module = importlib.import_module(KIND_MODULES[run.config["kind"]])
        run.system, run.model, run.variables = module.restore(run)
        return run

    def _read_json(self, name: str) -> Any:
        file = self.path / name
        if not file.is_file():
            raise PhyslensError(f"{self.path} is incomplete: {name} is missing")
        try:
            return json.loads(file.read_text())
        except json.JSONDecodeError as exc:
            raise PhyslensError(f"{file} is corrupt: {exc}") from None

    @property
    def status(self) -> dict:
        """The run's status: ``state``, ``step`` and optional ``message`` and summary fields."""
        return self._read_json("status.json")

    @property
    def reference(self) -> dict:
        """The exact reference the run is measured against."""
        return self._read_json("reference.json")

    @property
    def versions(self) -> dict:
        """Library versions recorded when the run was created."""
        return self._read_json("versions.json")

    def write_status(self, state: str, step: int, **info: Any) -> None:
        """Record the run's state (one of ``STATES``) at ``step``, with any summary fields."""
        if state not in STATES:
            raise PhyslensError(f"unknown run state {state!r}; allowed: {', '.join(STATES)}")
        atomic_write_text(self.path / "status.json", json.dumps({"state": state, "step": step, **info}, indent=2))

    def metrics_rows(self) -> list[dict]:
        """The logged metrics, one dict per logged step."""
        file = self.path / "metrics.jsonl"
        if not file.is_file():
            return []
        try:
            return [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise PhyslensError(f"{file} is corrupt: {exc}") from None

    def metrics(self) -> pd.DataFrame:
        """The logged metrics as a DataFrame, one row per logged step."""
        return pd.DataFrame(self.metrics_rows())

    def write_metrics(self, rows: list[dict]) -> None:
        """Replace the metrics log with ``rows`` (atomically)."""
        atomic_write_text(self.path / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in rows))

    def write_blob(self, name: str, data: bytes) -> None:
        """Store a binary file (``checkpoint.msgpack``, ``params.msgpack``) atomically."""
        atomic_write_bytes(self.path / name, data)

    def read_blob(self, name: str) -> bytes | None:
        """A binary file's bytes, or None when it does not exist."""
        file = self.path / name
        return file.read_bytes() if file.is_file() else None

    def read_state(self, name: str) -> dict | None:
        """A msgpack state dict (``checkpoint.msgpack``, ``params.msgpack``), or None when absent."""
        blob = self.read_blob(name)
        if blob is None:
            return None
        try:
            return flax.serialization.msgpack_restore(blob)
        except Exception as exc:  # msgpack raises several unrelated types on garbage
            raise PhyslensError(f"{self.path / name} is corrupt: {type(exc).__name__}") from None
