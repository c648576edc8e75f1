"""Tests of physlens.report.hidden_units: the τ-window table per α."""

import numpy as np
import pandas as pd

from physlens.report.hidden_units import _per_alpha


def test_tau_table_flags_degenerate_fits_and_leaves_out_alphas_never_fitted():
    sensitivity = pd.DataFrame({
        "tau": [0.1, 0.1, 0.1, 0.3, 0.3, 0.3],
        "alpha": [2, 3, 4, 2, 3, 4],
        "k_seed_mean": [0.4612, np.nan, np.nan, -0.7213, 0.0, np.nan],
        "k_seed_mean_se": [0.2111, np.nan, np.nan, 0.6712, 0.0, np.nan],
        "degenerate_seed_mean": [False, False, False, False, True, False],
        "frac_mean": [0.5, 0.6, 0.7, 0.2, 0.1, 0.0]})
    table = _per_alpha(sensitivity)
    assert list(table.columns) == ["τ", "k ± SE, α = 2", "mean m′/M, α = 2", "k ± SE, α = 3", "mean m′/M, α = 3"]
    assert table["k ± SE, α = 2"].tolist() == ["0.461 ± 0.21", "−0.721 ± 0.67"]  # a typographic minus
    assert table["k ± SE, α = 3"].tolist() == ["—", "degenerate"]
    assert table["mean m′/M, α = 3"].tolist() == [0.6, 0.1]
    assert _per_alpha(sensitivity.iloc[:0]).empty
