"""Executors give every task's result exactly once, whichever runs them."""

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
