"""Run directories: config, parameters, metrics, status, versions, exact reference.

A run directory holds

    config.toml        what was asked for (kind, system, model, training settings)
    versions.json      Python and library versions, written once at creation
    sittings.jsonl     one line per sitting of the training (``this_sitting``: start time, the step it
                       starts from, versions, device, ``XLA_FLAGS``): where a resumed run ran each part
    reference.json     the exact reference the run is measured against
    metrics.jsonl      one JSON object per logged step
    checkpoint.msgpack everything needed to resume (parameters, optimiser and sampler state)
    params.msgpack     the final variables
    status.json        state (running, interrupted, converged, finished, failed), step, message,
                       summary fields, and the sha256 of each msgpack file (``checksums``)
    .physlens.lock     while a process writes the run (``physlens.folders.FolderLock``)

Every file is written atomically (temporary file in the same folder, then rename),
so a killed process leaves each file either old or new, never half-written. An ended
run's msgpack files are checked against their checksums when read (``Run.verify``); a
``running`` run whose lock names a dead process reads as ``interrupted``.
``Run.open(path)`` reads a run's files (kinds: ``physlens.folders.RUN_KINDS``); rebuilding
what it was trained on belongs to its domain (``physlens.quantum.train.load``,
``physlens.nuclear.train.load``, ``physlens.quantum.dynamics.load`` for an evolution), and
``physlens.open(path)`` opens a run of a trained model.

Usage::

    run = Run.open("runs/ring8")
    run.config, run.status, run.reference, run.metrics()
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import shutil
import tempfile
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import flax.serialization
import pandas as pd
import tomli_w

from physlens.errors import EnvironmentProblem, PhyslensError
from physlens.folders import RUN_KINDS, lock_holder, lock_is_stale
from physlens.provenance import library_versions, this_sitting
from physlens.termination import Terminated

STATES = ("running", "interrupted", "converged", "finished", "failed")
TERMINAL_STATES = ("converged", "finished", "failed")
METRIC_COLUMNS = {"nqs": ["step", "energy", "energy_error", "variance", "eps"], "nuclear": ["step", "loss"]}
"""Columns every metrics row of a run kind has."""
BLOBS = ("params.msgpack", "checkpoint.msgpack")
"""Binary files whose sha256 every ``status.json`` records (``checksums``), checked once a run has ended."""

_UMASK = os.umask(0)
os.umask(_UMASK)

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


_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string", dict: "a table"}
_C = TypeVar("_C")


def _conform(value: Any, expected: Any) -> tuple[bool, Any]:
    """Whether ``value`` (from TOML or the command line) fits the annotation ``expected``, and the value
    converted to it (lists become tuples, integers become floats where a float is expected)."""
    origin, args = typing.get_origin(expected), typing.get_args(expected)
    if expected is Any or expected is None:
        return True, value
    if expected is type(None):
        return value is None, value
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            ok, converted = _conform(value, arg)
            if ok:
                return True, converted
        return False, value
    if origin is tuple or expected is tuple:
        if not isinstance(value, (list, tuple)):
            return False, value
        kinds = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args) or [Any] * len(value)
        if len(kinds) != len(value):
            return False, value
        items = [_conform(v, k) for v, k in zip(value, kinds)]
        return all(ok for ok, _ in items), tuple(v for _, v in items)
    if origin is dict or expected is dict:
        return isinstance(value, dict), value
    if expected is bool:
        return isinstance(value, bool), value
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if isinstance(expected, type):
        return isinstance(value, expected), value
    return True, value


def describe_type(expected: Any) -> str:
    """Words for a type annotation in an error message ("an integer", "a list of integers", ...)."""
    origin, args = typing.get_origin(expected), typing.get_args(expected)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("nothing" if a is type(None) else describe_type(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {describe_type(args[0]).removeprefix('an ').removeprefix('a ')}s"
        return f"a list of {len(args)} values"
    return _TYPE_NAMES.get(origin or expected, getattr(expected, "__name__", str(expected)))


def check_types(cls: type, values: dict, what: str = "config key") -> dict:
    """``values`` converted to the field types of the dataclass ``cls``; a value of the wrong type is a
    one-line ``PhyslensError`` naming the field (``what name``) and the type it needs."""
    hints = typing.get_type_hints(cls)
    checked = {}
    for name, value in values.items():
        ok, checked[name] = _conform(value, hints.get(name, Any))
        if not ok:
            raise PhyslensError(f"{what} {name} must be {describe_type(hints[name])}; got {value!r}")
    return checked


def dataclass_from_dict(cls: type[_C], values: dict) -> _C:
    """Build the config dataclass ``cls`` from a plain dict (a TOML table): unknown keys and values of the
    wrong type are one-line errors, and lists (TOML arrays) become tuples."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise PhyslensError(f"unknown config key(s) {', '.join(unknown)}; allowed: {', '.join(names)}")
    return cls(**check_types(cls, values))


def _drop_none(d: dict) -> dict:
    return {k: (_drop_none(v) if isinstance(v, dict) else list(v) if isinstance(v, tuple) else v)
            for k, v in d.items() if v is not None}


@dataclass
class Run:
    """A run directory, and once loaded, what it was trained on.

    Attributes:
        path: the run directory.
        config: the parsed ``config.toml``.
        system: the physical system (set by the domain's ``load``).
        model: the Flax module (set by the domain's ``load``).
        variables: the trained (or last checkpointed) variables (set by the domain's ``load``).
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
            try:
                os.replace(staging, path)
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                raise EnvironmentProblem(f"run directory {path} was created by another process meanwhile; "
                                         f"allowed: a new --out, or --resume {path} once that process has ended") from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return cls(path, config)

    @classmethod
    def open(cls, path: Path | str, kind: str | None = None) -> "Run":
        """Open an existing run directory (config only); one-line error when missing or corrupt, or when
        ``kind`` is given and the run is of another kind."""
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
        if config.get("kind") not in RUN_KINDS:
            raise PhyslensError(f"{config_file} has kind {config.get('kind')!r}; allowed: {', '.join(RUN_KINDS)}")
        if kind is not None and config["kind"] != kind:
            raise PhyslensError(f"{path} is a {config['kind']} run, not a {kind} run")
        return cls(path, config)

    @property
    def settings(self) -> dict:
        """The config without its ``kind``: the keyword arguments of the config dataclass it was written from."""
        return {k: v for k, v in self.config.items() if k != "kind"}

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
        """The run's status: ``state``, ``step`` and optional ``message`` and summary fields.

        A run recorded as ``running`` whose lock names a process that has ended was killed: it reads
        as ``interrupted`` (``--resume`` continues it from its last checkpoint).
        """
        status = self._read_json("status.json")
        if status.get("state") == "running":
            holder = lock_holder(self.path)
            if holder is not None and lock_is_stale(holder):
                status = {**status, "state": "interrupted",
                          "message": f"process {holder['pid']} ended without finishing; --resume continues from "
                                     f"step {status.get('step', 0)}"}
        return status

    @property
    def reference(self) -> dict:
        """The exact reference the run is measured against."""
        return self._read_json("reference.json")

    @property
    def versions(self) -> dict:
        """Library versions recorded when the run was created."""
        return self._read_json("versions.json")

    @property
    def sittings(self) -> list[dict]:
        """The sittings of the training so far (``record_sitting``), first first; empty for older runs."""
        file = self.path / "sittings.jsonl"
        return [json.loads(line) for line in file.read_text().splitlines() if line] if file.is_file() else []

    def record_sitting(self, step: int) -> None:
        """Add this process's sitting (``this_sitting``), starting at ``step``, to ``sittings.jsonl``."""
        lines = [json.dumps(s) for s in self.sittings] + [json.dumps({**this_sitting(), "step": step})]
        atomic_write_text(self.path / "sittings.jsonl", "\n".join(lines) + "\n")

    def write_status(self, state: str, step: int, **info: Any) -> None:
        """Record the run's state (one of ``STATES``) at ``step``, with any summary fields, and the sha256
        of each of ``BLOBS`` present (``checksums``)."""
        if state not in STATES:
            raise PhyslensError(f"unknown run state {state!r}; allowed: {', '.join(STATES)}")
        checksums = {name: hashlib.sha256(blob).hexdigest() for name in BLOBS
                     if (blob := self.read_blob(name)) is not None}
        status = {"state": state, "step": step, **info}
        if checksums:
            status["checksums"] = checksums
        atomic_write_text(self.path / "status.json", json.dumps(status, indent=2))

    def mark_interrupted(self, exc: BaseException) -> None:
        """Record the run as ``interrupted`` at its last checkpoint after Ctrl-C, SIGTERM or an error ``exc`` (best
        effort: a full disk may refuse even that, and the status then stays ``running``)."""
        try:
            status = self.status
            last = status["step"]
            why = (str(exc) if isinstance(exc, Terminated) else "interrupted" if isinstance(exc, KeyboardInterrupt)
                   else f"stopped by {type(exc).__name__}: {exc}")
            kept = {"seconds": status["seconds"]} if "seconds" in status else {}
            self.write_status("interrupted", step=last, message=f"{' '.join(why.split())}; --resume continues from step {last}",
                              **kept)
        except (OSError, PhyslensError):
            pass

    def verify(self, names: tuple[str, ...] = BLOBS, read: dict[str, bytes] | None = None) -> None:
        """Check ``names`` against the checksums in ``status.json`` once the run has ended; a missing,
        truncated or modified file is a one-line ``PhyslensError``. Running and interrupted runs are
        not checked (a kill between writing a checkpoint and its status is allowed). ``read``: the bytes
        of files the caller has already read, checked as they are instead of being read again."""
        status = self.status
        if status.get("state") not in TERMINAL_STATES:
            return
        for name, expected in status.get("checksums", {}).items():
            if name not in names:
                continue
            blob = (read or {}).get(name) or self.read_blob(name)
            if blob is None or hashlib.sha256(blob).hexdigest() != expected:
                what = "is missing" if blob is None else "does not match the sha256 recorded in status.json"
                raise PhyslensError(f"{self.path / name} {what} (truncated or modified after training); "
                                    "allowed: the file as training wrote it — restore it or train again")

    def require_usable(self) -> None:
        """Refuse (one-line ``PhyslensError``) a run that failed, or whose saved files fail ``verify``."""
        status = self.status
        if status.get("state") == "failed":
            reason = (status.get("message") or "no reason recorded").split("; allowed:")[0]
            raise PhyslensError(f"{self.path} is a failed run, which analyses refuse ({reason}); allowed: a finished, "
                                "converged or interrupted run")
        self.verify()

    def read_rows(self, name: str) -> list[dict]:
        """The rows of the JSON-lines file ``name`` (``metrics.jsonl``, ``structure.jsonl``); empty when absent."""
        file = self.path / name
        if not file.is_file():
            return []
        try:
            return [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise PhyslensError(f"{file} is corrupt: {exc}") from None

    def write_rows(self, name: str, rows: list[dict]) -> None:
        """Replace the JSON-lines file ``name`` with ``rows`` (atomically)."""
        atomic_write_text(self.path / name, "".join(json.dumps(r) + "\n" for r in rows))

    def metrics_rows(self) -> list[dict]:
        """The logged metrics, one dict per logged step."""
        return self.read_rows("metrics.jsonl")

    def metrics(self) -> pd.DataFrame:
        """The logged metrics as a DataFrame, one row per logged step; with no rows, an empty frame that
        still has the columns every row of its kind has (``METRIC_COLUMNS``)."""
        rows = self.metrics_rows()
        return pd.DataFrame(rows) if rows else pd.DataFrame(columns=METRIC_COLUMNS.get(self.config.get("kind"), ["step"]))

    def write_metrics(self, rows: list[dict]) -> None:
        """Replace the metrics log with ``rows`` (atomically)."""
        self.write_rows("metrics.jsonl", rows)

    def write_blob(self, name: str, data: bytes) -> None:
        """Store a binary file (``checkpoint.msgpack``, ``params.msgpack``) atomically."""
        atomic_write_bytes(self.path / name, data)

    def read_blob(self, name: str) -> bytes | None:
        """A binary file's bytes, or None when it does not exist."""
        file = self.path / name
        return file.read_bytes() if file.is_file() else None

    def read_state(self, name: str) -> dict | None:
        """A msgpack state dict (``checkpoint.msgpack``, ``params.msgpack``), or None when absent;
        checked against its recorded checksum once the run has ended (``verify``)."""
        blob = self.read_blob(name)
        if blob is None:
            return None
        self.verify((name,), {name: blob})
        try:
            return flax.serialization.msgpack_restore(blob)
        except Exception as exc:  # msgpack raises several unrelated types on garbage
            raise PhyslensError(f"{self.path / name} is corrupt: {type(exc).__name__}") from None
