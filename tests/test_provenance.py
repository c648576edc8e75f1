"""Provenance records: library versions and the sitting a computation ran in."""

import os
import platform
from datetime import datetime
from importlib import metadata

from physlens.provenance import VERSIONED_PACKAGES, library_versions, this_sitting


def test_library_versions_name_python_and_every_package():
    versions = library_versions()
    assert list(versions) == ["python", *VERSIONED_PACKAGES]
    assert versions["python"] == platform.python_version() and versions["netket"] == metadata.version("netket")


def test_a_sitting_records_when_where_and_under_which_flags(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    sitting = this_sitting()
    assert datetime.fromisoformat(sitting["started"]).tzinfo is not None
    assert sitting["host"] == platform.node() and sitting["versions"] == library_versions()
    assert sitting["device"].startswith("cpu") and sitting["xla_flags"] == "--xla_cpu_multi_thread_eigen=false"


def test_a_sitting_records_the_cores_it_may_run_on():
    cores = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(cores)})
        assert this_sitting()["cpu_cores"] == 1
    finally:
        os.sched_setaffinity(0, cores)
    assert this_sitting()["cpu_cores"] == len(cores)
