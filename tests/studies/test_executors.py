"""Executors give every task's result exactly once, whichever runs them."""

import os
import signal
import subprocess
import sys
import time

import pytest

from physlens.errors import PhyslensError
from physlens.studies.executors import make_executor


def square(x: int) -> int:
    return x * x


@pytest.mark.parametrize("name,workers", [("local", 1), ("local", 2), ("dask", 2)])
def test_every_task_once(name, workers):
    tasks = list(range(7))
    with make_executor(name, workers) as ex:
        results = dict(ex.map(square, tasks))
    assert results == {x: x * x for x in tasks}


def test_bad_executor_settings():
    with pytest.raises(PhyslensError, match="unknown executor"):
        make_executor("slurm")
    with pytest.raises(PhyslensError, match="workers must be >= 1"):
        make_executor("local", 0)
    with pytest.raises(PhyslensError, match="needs --executor dask"):
        make_executor("local", 1, scheduler="tcp://127.0.0.1:8786")


TASKS = '''
import pathlib, signal, sys, time
from physlens.studies.executors import LocalExecutor
from physlens.termination import raise_on_sigterm

def task(i):
    folder = pathlib.Path(sys.argv[1])
    (folder / f"started-{i}").touch()
    try:
        for _ in range(1200):  # a training loop returns to Python between steps: where CPython runs a handler
            time.sleep(0.1)    # whose signal the kernel gave one of the process's (XLA) threads
    except KeyboardInterrupt as exc:
        (folder / f"interrupted-{i}").write_text(type(exc).__name__)
        raise
    return i

if __name__ == "__main__":
    # A test runner started in the background ignores SIGINT, and exec keeps an ignored signal ignored: give this
    # study the interrupt a user's shell delivers, whatever the runner's process inherited.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    raise_on_sigterm()
    with LocalExecutor(2) as ex:
        for _ in ex.map(task, list(range(6))):
            pass
'''


@pytest.mark.parametrize("whole_group,signum", [(True, signal.SIGINT), (False, signal.SIGINT), (True, signal.SIGTERM),
                                                (False, signal.SIGTERM)],
                         ids=["ctrl-c", "kill-int-of-the-study", "kill-term-of-the-group", "kill-term-of-the-study"])
def test_interrupt_records_running_tasks_and_starts_no_queued_one(tmp_path, whole_group, signum):
    """A pool that an interrupt reaches stops within seconds: both running tasks see the interrupt (and
    record it), none of the four queued tasks starts. Interrupting only the study's own process must reach
    its workers too (before the fix the pool waited for the next queued task to finish). SIGTERM (a
    background job stopped with ``kill``) does the same, where it used to end every process unrecorded, and
    each task records a ``Terminated``."""
    script, marks = tmp_path / "tasks.py", tmp_path / "marks"
    script.write_text(TASKS)
    marks.mkdir()
    proc = subprocess.Popen([sys.executable, str(script), str(marks)], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(list(marks.glob("started-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        (os.killpg if whole_group else os.kill)(proc.pid, signum)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    started = sorted(p.name for p in marks.glob("started-*"))
    assert sorted(p.name for p in marks.glob("interrupted-*")) == [n.replace("started", "interrupted") for n in started]
    assert len(started) == 2 and proc.returncode != 0
    recorded = {p.read_text() for p in marks.glob("interrupted-*")}
    assert recorded == {"Terminated" if signum == signal.SIGTERM else "KeyboardInterrupt"}
