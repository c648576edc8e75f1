"""Tests of physlens.report.figures: units drawn in the order and colours the captions promise."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgba

from physlens.report.figures import IMPORTANT, OTHER, phase_inversion, unit_weights


def test_unit_weights_rows_sorted_by_pattern_score_and_important_units_red():
    weights_MN = np.arange(12.0).reshape(3, 4)
    scores_M, important_M = np.array([0.1, -0.9, 0.5]), np.array([False, True, False])
    fig = unit_weights(weights_MN, scores_M, important_M)
    ax_w, ax_s = fig.axes[:2]
    np.testing.assert_array_equal(ax_w.get_images()[0].get_array(), weights_MN[[1, 2, 0]])
    assert [t.get_text() for t in ax_w.get_yticklabels()] == ["1", "2", "0"]
    bars = ax_s.patches
    np.testing.assert_allclose([b.get_width() for b in bars], [-0.9, 0.5, 0.1])
    assert [b.get_facecolor() for b in bars] == [to_rgba(IMPORTANT), to_rgba(OTHER), to_rgba(OTHER)]
    plt.close(fig)


def test_phase_inversion_counts_the_units_whose_removal_flips_the_staggered_sign():
    fig = phase_inversion(np.array([0.8, -0.3, 0.1, -0.05]), 0.7, np.array([False, True, False, True]))
    assert fig.axes[0].get_title() == "Staggered pattern after removal (2 inverted)"
    plt.close(fig)
    fig = phase_inversion(np.array([0.8, -0.3]), -0.6, np.array([False, True]))
    assert fig.axes[0].get_title() == "Staggered pattern after removal (1 inverted)"
    plt.close(fig)
