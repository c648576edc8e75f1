"""What every ``physlens`` sub-command shares: consoles, the error wrapper, value parsers, tables, progress.

``cli_errors`` turns what a user can fix into one line on stderr and a documented exit code
(``physlens.errors``: 2 bad input, 3 the environment — a lock held, a read-only or full
disk, a permission — and 4 a failed run) and library warnings into one-line notes.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import sys
import tomllib
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from physlens.errors import EXIT_ENVIRONMENT, PhyslensError, RunFailed
from physlens.termination import EXIT_TERMINATED, Terminated

if TYPE_CHECKING:
    import pandas as pd

    from physlens.nuclear.training_config import NuclearTrainConfig
    from physlens.opening import Opened
    from physlens.quantum.training_config import TrainConfig
    from physlens.runs import Run

console = Console()
errors = Console(stderr=True)

_OS_HINTS = {
    errno.ENOSPC: "free some space, or choose a folder on another disk",
    errno.EDQUOT: "free some space, or choose a folder on another disk",
    errno.EROFS: "choose a writable folder",
    errno.EACCES: "choose a folder you may write, or change its permissions",
    errno.EPERM: "choose a folder you may write, or change its permissions",
    errno.ENOENT: "an existing path",
    errno.ENOTDIR: "a path whose parents are folders",
    errno.EISDIR: "a file path, not a folder",
}


def error_line(exc: BaseException) -> str:
    """The one line ``cli_errors`` prints for ``exc`` (without the ``physlens: error:`` prefix)."""
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        hint = _OS_HINTS.get(exc.errno, "check the disk and the path")
        return f"{exc.strerror or type(exc).__name__}{where}; allowed: {hint}"
    return " ".join(str(exc).split())


def _print_error(text: str) -> None:
    errors.print(f"physlens: error: {text}", markup=False, highlight=False, soft_wrap=True)


def note(text: str) -> None:
    """Print a one-line note to stderr."""
    errors.print(f"physlens: note: {' '.join(text.split())}", markup=False, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def warnings_as_notes() -> Iterator[None]:
    """Within the block, each distinct library warning becomes one ``physlens: note:`` line on stderr."""
    seen = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = next((line.strip() for line in str(message).splitlines() if line.strip()), category.__name__)
        if text not in seen:
            seen.add(text)
            note(text)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def cli_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command: ``PhyslensError`` → one line and its ``exit_code``; ``OSError`` → one line and exit 3;
    Ctrl-C → exit 130, SIGTERM (once ``raise_on_sigterm`` is in force) → exit 143; library warnings → one-line
    notes."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            with warnings_as_notes():
                return fn(*args, **kwargs)
        except PhyslensError as exc:
            _print_error(error_line(exc))
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:
            _print_error(error_line(exc))
            raise typer.Exit(EXIT_ENVIRONMENT) from None
        except KeyboardInterrupt as exc:
            what = str(exc) if isinstance(exc, Terminated) else "interrupted"
            errors.print(f"physlens: {what}; what finished is kept: the same command continues a study or a pruning "
                         "study, --resume FOLDER a training run or an evolution", markup=False, highlight=False,
                         soft_wrap=True)
            raise typer.Exit(EXIT_TERMINATED if isinstance(exc, Terminated) else 130) from None

    return wrapper


def parse_value(text: str) -> Any:
    """``text`` read as a TOML value (``0.5``, ``false``, ``[1, 2]``), else the text itself as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_params(items: list[str]) -> dict:
    """``NAME=VALUE`` items as a dict name → ``parse_value(VALUE)``; an item without ``=`` raises ``PhyslensError``."""
    params = {}
    for item in items:
        if "=" not in item:
            raise PhyslensError(f"system parameter {item!r} must look like NAME=VALUE (e.g. h=0.5, pbc=false)")
        name, value = item.split("=", 1)
        params[name.strip()] = parse_value(value.strip())
    return params


def int_list(text: str, step: int = 1) -> tuple[int, ...]:
    """Parse '8-20' (with ``step``) or '8,12,16' into integers."""
    try:
        if "-" in text:
            lo, hi = (int(t) for t in text.split("-"))
            return tuple(range(lo, hi + 1, step))
        return tuple(int(t) for t in text.split(","))
    except ValueError:
        raise PhyslensError(f"{text!r} is not a range like 8-20 or a list like 8,12,16") from None


def float_list(text: str, option: str) -> tuple[float, ...]:
    """Parse the comma-separated numbers of ``option`` ('0,0.5,2'); an empty item is an error."""
    try:
        return tuple(float(t) for t in text.split(","))
    except ValueError:
        raise PhyslensError(f"{option} must be comma-separated numbers; got {text!r}") from None


def load_run(path: Path) -> Run:
    """Open a run of either kind and restore its system (or data), model and variables; one line when
    it is missing, corrupt, failed, or its saved files do not match their recorded checksums."""
    from physlens.opening import load_run as restore
    from physlens.runs import Run

    Run.open(path).require_usable()
    return restore(path)


SOURCE_HELP = ("a physlens run folder, or a saved NetKet/Flax state (the .mpack of NetKet's JsonLog, a flax msgpack, "
               "an nqxpack archive) with --system, --size and --model")
SystemOption = Annotated[Optional[str], typer.Option(help="for a saved state: the system (heisenberg-ring, tfim-chain, …)")]
SizeOption = Annotated[Optional[int], typer.Option(help="for a saved state: N for chains and rings, L for square lattices")]
ParamOption = Annotated[Optional[list[str]], typer.Option("--param", "-p", help="for a saved state: system parameter NAME=VALUE, repeatable")]
ModelOption = Annotated[Optional[str], typer.Option(help="for a saved state: the model, e.g. netket.RBM:alpha=2 or package.module:Class:k=v "
                                                         "(not needed for an nqxpack archive, which records it)")]


def open_source(source: Path, system: str | None, size: int | None, params: list[str] | None,
                model: str | None) -> Opened:
    """What a command was pointed at, opened: a physlens run (checked as ``load_run`` checks it) or a saved
    NetKet/Flax state with its system and model from the options (``physlens.open``)."""
    from physlens.opening import Opened, open as open_model

    if source.is_dir():
        if system is not None or size is not None or params or model is not None:
            raise PhyslensError(f"{source} is a physlens run: it records its system and model; drop --system, --size, -p and --model")
        return Opened.of_run(load_run(source))
    if not source.exists():
        raise PhyslensError(f"{source} does not exist; allowed: {SOURCE_HELP}")
    if system is None:
        raise PhyslensError(f"{source} is not a run folder, so give its system: --system NAME --size N [-p NAME=VALUE]")
    return open_model(source, system=system, size=size, model=model, **parse_params(params or []))


def raise_if_failed(run: Run) -> None:
    """``RunFailed`` (exit 4) naming the reason when a run just trained or resumed has failed."""
    status = run.status
    if status["state"] == "failed":
        raise RunFailed(f"run {run.path} failed after {status['step']} steps: {status.get('message') or 'no reason recorded'}")


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4g}"
    return escape(str(value))


def add_row(table: Table, *cells: str) -> None:
    """Add a row of plain text (square brackets are printed, not read as rich markup)."""
    table.add_row(*(escape(c) for c in cells))


def frame_table(frame: pd.DataFrame, title: str, units: dict[str, str] | None = None) -> Table:
    """A rich table of a DataFrame: rows and columns that are all NaN dropped, numbers to four significant
    figures, each column headed by its name and its unit from ``units`` (column → unit) when it has one."""
    units = units or {}
    frame = frame.dropna(how="all", axis=1)
    numeric = frame.select_dtypes("number")
    if len(numeric.columns):
        frame = frame[~numeric.isna().all(axis=1)]
    table = Table(title=title)
    for col in frame.columns:
        table.add_column(escape(f"{col} [{units[col]}]" if col in units else str(col)), justify="right")
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    return table


@contextlib.contextmanager
def stages(names: list[str], desc: str, enabled: bool = True) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr over the named stages of a long command; the block calls ``advance()``
    after each stage (the bar shows the stage under way and the elapsed time)."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(names), desc=desc, file=sys.stderr, disable=not enabled, dynamic_ncols=True,
               bar_format="{desc}: {n_fmt}/{total_fmt} stages |{bar}| {elapsed} {postfix}")
    position = iter(names)
    bar.set_postfix_str(next(position, ""))

    def advance() -> None:
        bar.update(1)
        bar.set_postfix_str(next(position, "done"))

    try:
        yield advance
    finally:
        bar.close()


def _same_config(path: Path, config) -> bool:
    from physlens.runs import Run

    try:
        return type(config).from_dict(Run.open(path).settings) == config
    except PhyslensError:
        return False


def train_or_reuse(config: TrainConfig | NuclearTrainConfig, out: Path, kind: str, train_fn: Callable[..., Run],
                   resume_fn: Callable[..., Run] | None = None, *, force: bool = False, progress: bool = True,
                   check: Callable[[], Any] | None = None) -> Run:
    """The run of ``config`` (a ``TrainConfig`` or ``NuclearTrainConfig``) in ``out``.

    With ``resume_fn``, a folder that holds a ``kind`` of exactly this configuration is resumed (or just
    loaded when it has ended). Anything else in ``out`` is refused in one line, or with ``force`` moved
    aside — after ``check()`` has validated the input, so bad input never moves anything — before
    ``train_fn(config, out)`` trains anew.
    """
    from physlens.folders import claim, folder_kind

    held = folder_kind(out)
    if held is None:
        return train_fn(config, out, progress=progress)
    if resume_fn is not None and held == kind:
        if _same_config(out, config):
            return resume_fn(out, progress=progress)
        if not force:
            raise PhyslensError(f"{out} holds an {kind} of another configuration; allowed: another --out, "
                                "or --force to move it aside")
    if force and check is not None:
        check()
    aside = claim(out, kind, force=force, resumable=False)
    if aside is not None:
        note(f"moved the earlier {out} aside to {aside}")
    return train_fn(config, out, progress=progress)


def check_output_file(path: Path | None, owner: Path, header: str | None = None) -> None:
    """Refuse (one line, before anything runs) an output file that would overwrite something another command
    wrote: an existing file outside the folder ``owner`` of this command, unless it starts with ``header``
    (the same kind of file, e.g. an earlier steering curve)."""
    if path is None or not path.exists():
        return
    if path.is_dir():
        raise PhyslensError(f"{path} is a folder; allowed: a file path")
    if path.resolve().parent == owner.resolve():
        return
    if header is not None:
        with path.open("rb") as f:
            if f.read(len(header.encode())) == header.encode():
                return
    raise PhyslensError(f"{path} already exists and was not written by this command; allowed: a new file path")
