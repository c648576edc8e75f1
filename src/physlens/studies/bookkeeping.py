"""What every resumable study does around its tasks: pin its settings to its folder, run what is pending.

A study folder holds ``study.json`` (the settings and library versions, written once) and one
stored result per finished task; rerunning the same command redoes only the tasks without one.

    record_config(study)                                  # refuses a folder made with other settings
    run_tasks(executor, run_task, pending(study), len(study.tasks()), "nuclear study", progress=True)
"""

from __future__ import annotations

import dataclasses
import io
import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from physlens.errors import PhyslensError
from physlens.provenance import library_versions
from physlens.runs import atomic_write_bytes, atomic_write_text
from physlens.studies.executors import DaskExecutor, LocalExecutor


def record_config(study: Any, grid: tuple[str, ...] = ()) -> dict:
    """Write ``study.out/study.json`` (every field of the dataclass ``study`` but ``out``, and the library
    versions) once; raise ``PhyslensError`` if the folder already holds a study with other settings.

    A field the folder's record lacks (a setting added to physlens after the folder was made) counts as
    recorded at its default: the folder resumes when the field is left at its default, and is refused
    otherwise. Fields named in ``grid`` may differ: the folder's record grows to hold both (``record_settings``).
    Returns the record as it now stands."""
    config = dataclasses.asdict(study)
    config.pop("out")
    defaults = {f.name: f.default for f in dataclasses.fields(study)
                if f.default is not dataclasses.MISSING and f.name != "out"}
    return record_settings(study.out, None, config, defaults=defaults, grid=grid)


WATCH_EVERY_S = 15.0
"""Seconds between two looks at the running tasks (``run_tasks``'s ``watch``)."""


def run_tasks(executor: LocalExecutor | DaskExecutor, run_task: Callable, todo: Sequence, total: int, desc: str,
              progress: bool = True, watch: Callable[[], str] | None = None) -> None:
    """Map ``run_task`` over the pending tasks ``todo`` inside ``executor``'s context, with a progress bar
    that counts the ``total - len(todo)`` tasks already stored as done. ``watch``: a line on the tasks now
    running (e.g. their training steps), shown after the bar every ``WATCH_EVERY_S`` seconds, so that a bar
    over models that train for an hour each still moves."""
    from tqdm.auto import tqdm

    with executor as ex, tqdm(total=total, initial=total - len(todo), disable=not progress, desc=desc, unit="model") as bar:
        stop = threading.Event()
        if progress and watch is not None:
            threading.Thread(target=_watch, args=(bar, watch, stop), daemon=True).start()
        try:
            for _ in ex.map(run_task, todo):
                bar.update(1)
        finally:
            stop.set()


def _watch(bar, watch: Callable[[], str], stop: threading.Event) -> None:
    while not stop.wait(WATCH_EVERY_S):
        bar.set_postfix_str(watch(), refresh=True)


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    """Store ``frame`` as Parquet at ``path`` atomically (a killed study never leaves half a table)."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


def _union(recorded, wanted):
    """The grid value that holds both: a count grows to the larger, a list to the union (recorded order first)."""
    if isinstance(wanted, int) and isinstance(recorded, int):
        return max(recorded, wanted)
    if isinstance(wanted, list) and isinstance(recorded, list):
        return recorded + [v for v in wanted if v not in recorded]
    return wanted


def record_settings(out: Path | str, kind: str | None, config: dict, defaults: dict | None = None,
                    grid: tuple[str, ...] = ()) -> dict:
    """Pin ``config`` to ``out/study.json``, under the folder kind ``kind`` (what ``physlens.folders`` reads;
    None: the kind follows from the settings); raise ``PhyslensError`` naming the settings that differ if the
    folder already holds one made with others. ``defaults``: the value a setting missing from an existing
    record stands for (settings added after the folder was made). ``grid``: settings that only say which
    models the folder holds (sizes, seeds): a folder asked for others *grows* — its record becomes the union —
    while every other setting must match. Returns the record as it now stands."""
    path = Path(out) / "study.json"
    config = json.loads(json.dumps(config))
    if not path.exists():
        payload = {"config": config, "versions": library_versions()}
        atomic_write_text(path, json.dumps(payload if kind is None else {"kind": kind, **payload}, indent=2))
        return config
    stored = json.loads(path.read_text())
    recorded = stored.get("config") or {}
    recorded = {**json.loads(json.dumps({k: v for k, v in (defaults or {}).items() if k in config})), **recorded}
    changed = sorted(k for k in config.keys() | recorded.keys() if k not in grid and recorded.get(k) != config.get(k))
    if changed:
        raise PhyslensError(f"{out} holds a {kind or 'study'} with other settings ({', '.join(changed)}); "
                            "use a new --out or the same settings")
    grown = {**recorded, **{k: _union(recorded.get(k), config[k]) for k in grid if k in config}}
    if grown != recorded:
        atomic_write_text(path, json.dumps({**stored, "config": grown}, indent=2))
    return grown
