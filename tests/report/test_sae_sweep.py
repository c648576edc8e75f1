"""Tests of physlens.report.sae_sweep: one panel per hook, and the page names the best feature's SAE."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from physlens.report.sae_sweep import pareto_figure, write_sweep_report


def _frame() -> pd.DataFrame:
    rows = []
    for hook in ("hidden.post", "hidden.pre"):
        for k, arch in enumerate(("relu", "topk", "jumprelu")):
            best = 0.9 if (hook, arch) == ("hidden.pre", "topk") else 0.2 + 0.1 * k
            rows.append({"hook": hook, "sae": f"{arch}-w64", "arch": arch, "target": "czz_1", "l0": 2.0 + k,
                         "explained_variance": 0.8 + 0.05 * k, "dead_fraction": 0.0, "energy_recovered": 0.99,
                         "fidelity": 0.98, "best_abs_r[czz_1]": best, "latent_probe_r[czz_1]": 0.95,
                         "probe_ceiling_r[czz_1]": 0.97, "split_n": 1, "split_combined_r": best})
    return pd.DataFrame(rows)


def test_one_panel_per_hook_each_architecture_with_its_points():
    fig = pareto_figure(_frame(), "czz_1")
    panels = fig.axes[:2]
    assert [ax.get_title() for ax in panels] == ["hook hidden.post", "hook hidden.pre"]
    for ax in panels:
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["relu", "topk", "jumprelu"]
        np.testing.assert_allclose(np.concatenate([c.get_offsets() for c in ax.collections]),
                                   [[2.0, 0.8], [3.0, 0.85], [4.0, 0.9]])
    plt.close(fig)


def test_page_names_the_best_single_feature_and_its_sae(tmp_path):
    html = write_sweep_report(_frame(), tmp_path / "sweep.html", ["synthetic"]).read_text()
    assert "|r| = 0.900" in html and "(topk-w64 at hidden.pre)" in html and "r = 0.970" in html
