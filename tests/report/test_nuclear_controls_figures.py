"""Tests of physlens.report.nuclear_controls_figures: the curves are the tables' means and trends."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from physlens.report.nuclear_controls_figures import helix_predictions, width_scan


def test_width_trends_are_least_squares_in_log2_width_over_the_trained_widths_only(widths_table):
    fig = width_scan(widths_table, pd.DataFrame({"column": ["helix_r2_Z"], "threshold": [0.9]}))
    left, _, rms = fig.axes[:3]
    points, trend = left.get_lines()[0], left.get_lines()[1]
    np.testing.assert_array_equal(points.get_xdata(), [64, 128, 256])
    slope, intercept = np.polyfit([6, 7, 8], [0.5, 0.62, 0.71], 1)
    np.testing.assert_allclose(trend.get_ydata(), intercept + slope * np.log2(trend.get_xdata()), rtol=1e-12)
    assert [line.get_ydata()[0] for line in left.get_lines() if line.get_linestyle() == "-"] == [0.9]
    assert rms.get_title() == "after 3,000 steps each; not trained (left out): width 512"
    plt.close(fig)


def test_helix_predictions_are_the_mean_binding_per_nucleon_at_each_mass_number():
    nuclei = pd.DataFrame({"Z": [2, 3, 3, 4], "N": [2, 1, 2, 1]})        # A = 4, 4, 5, 5
    measured = nuclei.assign(B=[28.0, 26.0, 37.0, 35.0])
    rows = [nuclei.assign(embedding="Z", parameter=param, factor=factor, B_MeV=scale * measured.B)
            for param, factor, scale in (("none", 1.0, 1.0), ("radius", 2.0, 1.1))]
    fig = helix_predictions(pd.concat(rows), measured)
    target, as_trained, radius = fig.axes[0].get_lines()
    np.testing.assert_allclose(target.get_ydata(), [(7 + 6.5) / 2, (7.4 + 7) / 2])
    np.testing.assert_allclose(as_trained.get_ydata(), target.get_ydata())
    np.testing.assert_allclose(radius.get_ydata(), 1.1 * target.get_ydata())
    assert [as_trained.get_label(), radius.get_label()] == ["as trained", "radius × 2"]
    plt.close(fig)
