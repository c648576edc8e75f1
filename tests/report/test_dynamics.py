"""Tests of physlens.report.dynamics: when the NQS leaves the exact evolution."""

from types import SimpleNamespace

import numpy as np

from physlens.report.dynamics import departure_time


def test_departure_is_the_first_saved_time_below_the_threshold():
    evolution = SimpleNamespace(fidelity_T=np.array([1.0, 0.999, 0.97, 0.995, 0.9]),
                                nqs=SimpleNamespace(times_T=np.array([0.0, 0.1, 0.2, 0.3, 0.4])))
    assert departure_time(evolution, 0.99) == 0.2
    assert departure_time(evolution, 0.95) == 0.4
    assert departure_time(evolution, 0.5) is None
