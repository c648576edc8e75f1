"""Tests of physlens.report.sae_steering: the correlation map shows the features asked for, the probe figure each
direction's curve."""

from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from physlens.report.sae_steering import correlation_map, probe_figure, probe_section


def test_correlation_map_rows_are_the_listed_features():
    r_FO = np.linspace(-1, 1, 12).reshape(6, 2)
    fig = correlation_map(r_FO, ("m_s", "czz_1"), np.array([4, 1]))
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), r_FO[[4, 1]])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["4", "1"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["m_s", "czz_1"]
    plt.close(fig)


def test_probe_section_draws_both_directions_and_floors_zero_deviations_for_the_log_axis():
    strengths = [-1.0, 0.0, 1.0]
    frame = pd.DataFrame({"direction": ["feature"] * 3 + ["probe"] * 3, "relative_strength": strengths * 2,
                          "czz_1": [-0.2, -0.25, -0.3, -0.24, -0.25, -0.26], "rel_energy_dev": [1e-5, 0.0, 2e-5, 1e-4, 0.0, 3e-4]})
    control = SimpleNamespace(frame=frame, target="czz_1", probe_r=0.912, quiet=pd.DataFrame({"direction": ["feature"]}))
    section = probe_section(control)
    assert "r = 0.912" in section.text and section.tables[0].frame.equals(control.quiet)
    fig = probe_figure(control)
    left, right = fig.axes[:2]
    assert [line.get_label() for line in left.get_lines()] == ["feature", "probe"]
    np.testing.assert_allclose(right.get_lines()[0].get_ydata(), [1e-5, 1e-16, 2e-5])
    plt.close(fig)
