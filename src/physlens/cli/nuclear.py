"""``physlens nuclear``: sub-commands (being written)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the ``nuclear`` commands to the ``physlens`` app."""


def demo(out: Path) -> None:
    """The ``nuclear`` part of ``physlens demo``: a short run written to ``out``."""
