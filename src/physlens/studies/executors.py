"""Executors: where the independent tasks of a study run.

A study is a list of independent, deterministic tasks (train and analyse one model).
An executor maps a top-level function over them and yields each result as it
completes, so the study can store it at once (and skip it when restarted):

- ``LocalExecutor(workers)``: in this process when ``workers == 1``, else a pool of
  ``workers`` processes (spawned, so JAX starts clean in each). Ctrl-C (or ``kill -INT`` of
  the study alone) interrupts the running tasks, which record it, and starts no queued one;
  SIGTERM, to the study or to its whole process group, does the same (``physlens.termination``);
- ``DaskExecutor(workers)`` starts a ``distributed.LocalCluster`` of that many
  single-threaded workers; ``DaskExecutor(scheduler="tcp://host:8786")`` uses an
  existing cluster. On HPC, start one with dask-jobqueue, e.g.
  ``SLURMCluster(cores=2, memory="8GB", walltime="04:00:00").scale(jobs=20)``, and
  pass its ``scheduler_address``.

Usage::

    with make_executor("dask", workers=2) as ex:
        for key, result in ex.map(train_and_analyse, tasks):
            ...
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from physlens.errors import PhyslensError, check_choice
from physlens.termination import Terminated

EXECUTORS = ("local", "dask")


class LocalExecutor:
    """Run tasks here (``workers == 1``) or in a pool of spawned processes.

    Attributes:
        workers: number of processes (1: sequentially in this process).
    """

    def __init__(self, workers: int = 1):
        if workers < 1:
            raise PhyslensError(f"workers must be >= 1; got {workers}")
        self.workers = workers
        self._pool: cf.ProcessPoolExecutor | None = None

    def __enter__(self) -> "LocalExecutor":
        if self.workers > 1:
            self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_catch_interrupts)
        return self

    def __exit__(self, exc_type, *exc) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if exc_type is not None:
            # Interrupted or failed: pass the interrupt on to workers it did not reach (a ``kill -INT`` or
            # ``kill -TERM`` of this process alone), so that each records its task as interrupted and refuses
            # the queued ones; a termination is passed on as one, so the runs say which it was.
            signum = signal.SIGTERM if issubclass(exc_type, Terminated) else signal.SIGINT
            for process in list((pool._processes or {}).values()):
                if process.is_alive():
                    os.kill(process.pid, signum)
        pool.shutdown(cancel_futures=True)

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield ``(task, fn(task))`` for every task, in completion order."""
        if self._pool is None:
            for task in tasks:
                yield task, fn(task)
            return
        futures = {self._pool.submit(_unless_interrupted, fn, task): task for task in tasks}
        for future in cf.as_completed(futures):
            yield futures[future], future.result()


_worker = {"interrupted": False, "busy": False}
"""The state of a pool worker: interrupted once, it starts no further task."""


def _catch_interrupts() -> None:
    """Pool-worker initializer: the first SIGINT or SIGTERM interrupts the running task (``KeyboardInterrupt``
    or ``Terminated``, which the task records) and marks this worker interrupted; an idle worker only takes
    note, and a second signal is ignored, so that the task can finish recording its interruption."""
    signal.signal(signal.SIGINT, _on_interrupt)
    signal.signal(signal.SIGTERM, _on_interrupt)


def _on_interrupt(signum, frame) -> None:
    if _worker["interrupted"]:
        return
    _worker["interrupted"] = True
    if _worker["busy"]:
        raise Terminated("terminated (SIGTERM)") if signum == signal.SIGTERM else KeyboardInterrupt


def _unless_interrupted(fn: Callable[[Any], Any], task: Any) -> Any:
    """``fn(task)`` in a pool worker, unless the study was interrupted before the task began."""
    _worker["busy"] = True
    try:
        if _worker["interrupted"]:
            raise KeyboardInterrupt("the study was interrupted before this task began")
        return fn(task)
    finally:
        _worker["busy"] = False


class DaskExecutor:
    """Run tasks on a Dask cluster: a new ``LocalCluster`` or an existing scheduler.

    Attributes:
        workers: size of the local cluster (ignored with ``scheduler``).
        scheduler: address of an existing Dask scheduler, or None.
    """

    def __init__(self, workers: int = 2, scheduler: str | None = None):
        if workers < 1:
            raise PhyslensError(f"workers must be >= 1; got {workers}")
        self.workers, self.scheduler = workers, scheduler
        self._client = None
        self._cluster = None

    def __enter__(self) -> "DaskExecutor":
        from distributed import Client, LocalCluster

        if self.scheduler is None:
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None)
            self._client = Client(self._cluster)
        else:
            try:
                self._client = Client(self.scheduler, timeout=30)
            except OSError as exc:
                raise PhyslensError(f"cannot reach the Dask scheduler at {self.scheduler}: {exc}") from None
        return self

    def __exit__(self, *exc) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield ``(task, fn(task))`` for every task, in completion order."""
        from distributed import as_completed

        if not tasks:
            return
        futures = self._client.map(functools.partial(_with_thread_mesh, fn), list(tasks), pure=False)
        index = {f.key: t for f, t in zip(futures, tasks)}
        for future in as_completed(futures):
            yield index[future.key], future.result()


def _with_thread_mesh(fn: Callable[[Any], Any], task: Any) -> Any:
    """Run ``fn(task)`` with NetKet's single-axis device mesh set in this thread.

    NetKet sets its sample mesh (axis ``"S"`` over all devices) on import, but JAX
    meshes are per thread and Dask runs tasks in worker threads, where it is unset.
    """
    import jax
    import numpy as np
    from jax.sharding import AxisType, Mesh

    if not jax.sharding.get_abstract_mesh().axis_names:
        jax.sharding.set_mesh(Mesh(np.asarray(jax.devices()), ("S",), axis_types=(AxisType.Auto,)))
    return fn(task)


def make_executor(name: str, workers: int = 1, scheduler: str | None = None) -> LocalExecutor | DaskExecutor:
    """``local`` or ``dask`` executor with ``workers`` workers (or an existing ``scheduler``)."""
    check_choice("executor", name, EXECUTORS)
    if name == "local":
        if scheduler is not None:
            raise PhyslensError("--scheduler needs --executor dask")
        return LocalExecutor(workers)
    return DaskExecutor(workers, scheduler)
