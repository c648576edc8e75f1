"""SIGTERM handled as Ctrl-C: a terminated command records its interruption and releases its folders.

``kill PID``, a batch scheduler's time limit and ``kill -TERM -- -PGID`` of a background job send SIGTERM,
whose default action ends the process at once: no run would be marked ``interrupted``, no folder lock
released. After ``raise_on_sigterm()`` the signal raises ``Terminated`` (a ``KeyboardInterrupt``) in the
main thread instead, so everything that records a Ctrl-C records a termination the same way, and the CLI
exits with 143 (128 + SIGTERM). What finished is kept either way; the same command continues it.

Usage::

    raise_on_sigterm()          # once, in the main thread of a command's process
    try:
        work()
    except Terminated:          # or ``except KeyboardInterrupt`` for both
        ...
"""

from __future__ import annotations

import signal

EXIT_TERMINATED = 128 + signal.SIGTERM
"""The exit status of a command ended by SIGTERM (the shells' convention, 128 + signal number)."""


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM; raised in its main thread by ``raise_on_sigterm``'s handler."""


def raise_on_sigterm() -> None:
    """From now on, SIGTERM raises ``Terminated`` in this process's main thread (call it from there)."""
    signal.signal(signal.SIGTERM, _raise_terminated)


def _raise_terminated(signum: int, frame) -> None:
    raise Terminated("terminated (SIGTERM)")
