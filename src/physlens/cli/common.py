"""What every ``physlens`` sub-command shares: consoles, the error wrapper, value parsers."""

from __future__ import annotations

import functools
import tomllib

import typer
from rich.console import Console

from physlens.errors import PhyslensError

console = Console()
errors = Console(stderr=True)


def cli_errors(fn):
    """Turn ``PhyslensError`` into a one-line message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PhyslensError as exc:
            errors.print(f"physlens: error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            errors.print("physlens: interrupted; the run can be resumed with --resume", markup=False)
            raise typer.Exit(130) from None

    return wrapper


def parse_value(text: str):
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_params(items: list[str]) -> dict:
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
