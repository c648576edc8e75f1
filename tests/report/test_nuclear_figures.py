"""Tests of physlens.report.nuclear_figures: the study figure's means and spreads are the seeds'."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from physlens.report.nuclear_figures import single_vs_multi, study_structure


def test_accuracy_panel_is_mean_and_sample_sd_over_seeds_with_the_semf_beside_it():
    fractions = pd.DataFrame({"fraction": [0.5, 0.5, 0.5, 0.9, 0.9], "val_rms_B": [4.0, 5.0, 9.0, 2.0, 3.0],
                              "semf_val_rms_B": [3.1, 3.3, 3.2, 3.0, 3.0], "orderedness_Z": 0.9, "orderedness_N": 0.8,
                              "R_P_Z": 0.1, "R_P_N": 0.2})
    fig = study_structure(fractions)
    accuracy = fig.axes[2]
    model, semf = accuracy.get_lines()[:2]
    np.testing.assert_allclose(np.asarray(model.get_ydata(), float), [6.0, 2.5])
    np.testing.assert_allclose(semf.get_ydata(), [3.2, 3.0])
    bars = accuracy.containers[0][2][0].get_segments()
    np.testing.assert_allclose([seg[1, 1] - seg[0, 1] for seg in bars], 2 * np.array([np.std([4, 5, 9], ddof=1),
                                                                                        np.std([2, 3], ddof=1)]))
    plt.close(fig)


def test_tasks_are_named_for_physicists_with_single_beside_multi():
    tasks = pd.DataFrame({"task": ["B", "Q_alpha"], "single_val_rms_MeV": [3.0, 0.5], "multi_val_rms_MeV": [2.5, 0.6]})
    fig = single_vs_multi(tasks)
    ax = fig.axes[0]
    assert [bar.get_height() for bar in ax.patches] == [3.0, 0.5, 2.5, 0.6]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["B", "Q_α"]
    plt.close(fig)
