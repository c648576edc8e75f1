"""Tests of physlens.report.nuclear: the per-fraction summary and the rank correlation the study page states."""

import numpy as np
import pandas as pd
from scipy import stats

from physlens.report.nuclear import _mean_sd, _spearman, fraction_summary


def _fractions() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"fraction": np.repeat([0.5, 0.8, 0.9], [3, 4, 2]), "seed": np.arange(9),
                          "val_rms_B": rng.uniform(1, 5, 9), "orderedness_Z": rng.uniform(0, 1, 9)})
    frame.loc[4, "orderedness_Z"] = np.nan
    return frame


def test_summary_is_mean_and_sample_sd_over_seeds_per_fraction():
    fractions = _fractions()
    summary = fraction_summary(fractions)
    assert summary.fraction.tolist() == [0.5, 0.8, 0.9] and summary.models.tolist() == [3, 4, 2]
    for _, row in summary.iterrows():
        at = fractions[fractions.fraction == row.fraction]
        for column in ("val_rms_B", "orderedness_Z"):
            values = at[column].dropna().to_numpy()
            np.testing.assert_allclose(row[f"{column}_mean"], values.mean(), rtol=1e-14)
            np.testing.assert_allclose(row[f"{column}_sd"], values.std(ddof=1), rtol=1e-14)
    shown = _mean_sd(summary)
    assert shown.columns[:2].tolist() == ["fraction", "models"] and len(shown.columns) == 4
    assert all(" ± " in text for text in shown.iloc[:, 2])


def test_rank_correlation_is_spearmans_and_undefined_below_three_models():
    fractions = _fractions()
    valid = fractions.dropna()
    np.testing.assert_allclose(_spearman(fractions, "orderedness_Z"),
                               stats.spearmanr(valid.orderedness_Z, valid.val_rms_B).statistic, rtol=1e-12)
    assert np.isnan(_spearman(fractions.iloc[:2], "orderedness_Z"))
