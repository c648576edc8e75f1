"""Who may write an output folder: what it holds, a lock against a second writer, moving aside.

A folder is only written by a command of its own kind. ``claim(out, kind)`` refuses a
folder that holds something else with one line naming what it holds; with ``force`` it
moves the folder aside to ``<out>.old-<timestamp>`` (never deleting anything) and returns
the new name. ``FolderLock(out)`` holds ``out/.physlens.lock`` (an exclusive ``flock``, with
the PID, host and start time written in it) while a command writes; a second writer gets a
one-line ``EnvironmentProblem``. The kernel drops the ``flock`` when its process dies, so a
lock left by a killed process is taken over; ``lock_is_stale`` tells a reader that the
process named in a lock file has died (a killed run shows as interrupted).

    claim(Path("runs/study"), "hidden-units study")        # None: missing, empty, or the same kind
    with FolderLock(Path("runs/ring8")):
        ...                                                 # train or resume into runs/ring8
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
import tomllib
from pathlib import Path

from physlens.errors import EnvironmentProblem, PhyslensError

LOCK_NAME = ".physlens.lock"
RUN_KINDS = ("nqs", "nuclear", "evolution")
"""Kinds of run folder (``config.toml``'s ``kind``): a neural-quantum-state run, a nuclear run, an evolution."""


def _study_kind(path: Path) -> str:
    try:
        data = json.loads((path / "study.json").read_text())
    except (OSError, ValueError):
        return "other files"
    if not isinstance(data, dict):
        return "other files"
    config = data.get("config", {})
    if "kind" in data:
        return str(data["kind"])
    if "sizes" in config:
        return "hidden-units study"
    if "fractions" in config:
        return "nuclear study"
    if "rounds" in data:
        return "lottery study"
    return "other files"


def folder_kind(path: Path | str) -> str | None:
    """What ``path`` holds: ``"nqs run"``, ``"nuclear run"``, ``"hidden-units study"``, ``"nuclear study"``,
    ``"lottery study"``, ``"sae output"``, ``"a file"`` or ``"other files"``; None when it is missing or empty."""
    path = Path(path)
    if not path.exists():
        return None
    if not path.is_dir():
        return "a file"
    if not any(p.name != LOCK_NAME for p in path.iterdir()):
        return None
    if (path / "config.toml").is_file():
        try:
            kind = tomllib.loads((path / "config.toml").read_text()).get("kind")
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            kind = None
        return f"{kind} run" if kind in RUN_KINDS else "other files"
    if (path / "study.json").is_file():
        return _study_kind(path)
    if (path / "sae").is_dir() and (path / "summary.json").is_file():
        return "sae output"
    return "other files"


def _article(kind: str) -> str:
    if kind in ("a file", "other files"):
        return kind
    return f"an {kind}" if kind[0] in "aeiou" or kind.startswith(("nqs", "sae")) else f"a {kind}"


def move_aside(path: Path | str) -> Path:
    """Rename ``path`` to ``<path>.old-<timestamp>`` (a free name beside it) and return that name;
    refuses a folder another physlens process is writing."""
    path = Path(path)
    holder = lock_holder(path)
    if holder is not None and not lock_is_stale(holder):
        raise EnvironmentProblem(f"{path} is in use by {_who(holder)}; allowed: --force once that process has ended")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target, n = path.with_name(f"{path.name}.old-{stamp}"), 1
    while target.exists():
        target, n = path.with_name(f"{path.name}.old-{stamp}-{n}"), n + 1
    os.rename(path, target)
    return target


def claim(path: Path | str, kind: str, *, force: bool = False, resumable: bool = True) -> Path | None:
    """Make sure a command of ``kind`` may write ``path``.

    Returns None when ``path`` is missing or empty, or (``resumable``) already holds a ``kind``, whose own
    code then checks its configuration. Otherwise ``force`` moves the folder aside and returns its new
    name; without it, ``PhyslensError`` naming what the folder holds, and nothing is touched.
    """
    path = Path(path)
    held = folder_kind(path)
    if held is None or (held == kind and resumable):
        return None
    holder = lock_holder(path)
    if holder is not None and not lock_is_stale(holder):
        raise EnvironmentProblem(f"{path} is in use by {_who(holder)}; allowed: wait until it ends, or use another folder")
    if force:
        return move_aside(path)
    if held == kind:
        raise PhyslensError(f"{path} already holds {_article(kind)}; allowed: a new --out, --resume {path} to continue it, "
                            "or --force to move it aside")
    raise PhyslensError(f"{path} holds {_article(held)}, not {_article(kind)}; allowed: a new or empty --out, "
                        "or --force to move it aside")


def lock_holder(path: Path | str) -> dict | None:
    """The contents of ``path``'s lock file (``pid``, ``host``, ``started``), or None when there is none."""
    file = Path(path) / LOCK_NAME
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"pid": None, "host": None, "started": None}
    return data if isinstance(data, dict) else {"pid": None, "host": None, "started": None}


def lock_is_stale(holder: dict) -> bool:
    """True when the process named in a lock file has ended (only decidable for a process on this host)."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _who(holder: dict) -> str:
    if holder.get("pid") is None:
        return "another process (its lock file is being written or unreadable)"
    return f"process {holder.get('pid')} on {holder.get('host')} (since {holder.get('started')})"


class FolderLock:
    """An exclusive lock on a folder for one writing command (a context manager).

    Attributes:
        path: the locked folder (created if missing).
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> "FolderLock":
        """Take the lock, or raise ``EnvironmentProblem`` naming the process that holds it."""
        file = self.path / LOCK_NAME
        self.path.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = lock_holder(self.path) or {}
                raise EnvironmentProblem(f"{self.path} is in use by {_who(holder)}; allowed: wait until it ends, "
                                         "or use another folder") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(file).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        payload = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, payload, 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Remove the lock file and drop the lock."""
        if self._fd is None:
            return
        (self.path / LOCK_NAME).unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
