"""The steered-dynamics page: its summary table reads the right times and strengths, and the page is written."""

import numpy as np
import pytest

from physlens.quantum.quench import Trajectory
from physlens.quantum.steered_dynamics import SteeredDynamics
from physlens.report.steered_dynamics import steered_report, summary_frame

TIMES_T = np.array([0.5, 0.6, 0.7])


def _trajectory(m_x_T, energy: float) -> Trajectory:
    czz_TR = np.outer(np.asarray(m_x_T), [1.0, 0.5, 0.25])
    return Trajectory(TIMES_T, np.asarray(m_x_T, float), np.zeros(3), np.zeros(3), czz_TR, np.full(3, energy), "J", "x")


@pytest.fixture
def steered() -> SteeredDynamics:
    return SteeredDynamics(
        feature=3, mode="scale", strengths_K=np.array([0.0, 2.0]), times_T=TIMES_T,
        steer_then_evolve=[_trajectory([0.4, 0.3, 0.2], -1.5), _trajectory([0.1, 0.2, 0.25], -0.5)],
        reference=_trajectory([0.2, 0.2, 0.2], -1.0),
        evolve_then_steer=[_trajectory([0.4, 0.1, 0.0], 0.0), _trajectory([0.1, 0.3, 0.3], 0.0)],
        nqs=_trajectory([0.2, 0.1, 0.1], 0.0),
        commute_KT=np.array([[1.0, 0.9, 0.8], [1.0, 0.95, 0.7]]), tdvp_fidelity_T=np.array([1.0, 0.99, 0.98]),
        overlap_KT=np.full((2, 3), 0.75))


def test_summary_reads_the_first_and_last_times(steered):
    summary = summary_frame(steered)
    np.testing.assert_allclose(summary.delta_m_x_t0, [0.2, -0.1])
    np.testing.assert_allclose(summary.delta_czz_1_t0, [0.1, -0.05])
    np.testing.assert_allclose(summary.delta_energy, [-0.5, 0.5])
    np.testing.assert_allclose(summary.delta_m_x_end_propagated, [0.0, 0.05])
    np.testing.assert_allclose(summary.delta_m_x_end_feature, [-0.1, 0.2])
    np.testing.assert_allclose(summary.commute_end, [0.8, 0.7])


def test_page_is_written(steered, tmp_path):
    path = steered_report(steered, "test system", "J").write(tmp_path / "report.html")
    html = path.read_text()
    assert "Steering feature 3 at t₀ = 0.5" in html and "commute" in html
