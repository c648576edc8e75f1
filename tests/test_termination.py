"""SIGTERM raises ``Terminated`` (a ``KeyboardInterrupt``) in the main thread once ``raise_on_sigterm`` is in force."""

import signal
import subprocess
import sys

from physlens.termination import EXIT_TERMINATED, Terminated

SCRIPT = """
import os, signal, time
from physlens.termination import Terminated, raise_on_sigterm
raise_on_sigterm()
try:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)
except KeyboardInterrupt as exc:
    print(type(exc).__name__, isinstance(exc, Terminated), exc)
"""


def test_sigterm_raises_terminated_in_the_main_thread():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Terminated True terminated (SIGTERM)"


def test_without_the_handler_sigterm_ends_the_process_unrecorded():
    """The default action, for contrast: the process dies by the signal and runs no ``except`` clause."""
    done = subprocess.run([sys.executable, "-c", SCRIPT.replace("raise_on_sigterm()\n", "")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == -signal.SIGTERM and done.stdout == ""


def test_terminated_is_caught_as_ctrl_c_and_exits_143():
    assert issubclass(Terminated, KeyboardInterrupt) and EXIT_TERMINATED == 143
