"""Aggregates of the hidden-unit study against independent computations: numpy.polyfit on seed means,
degenerate fits flagged, models with m′ = 0 counted."""

import numpy as np
import pandas as pd

from physlens.studies.hidden_units_summary import seed_averaged_scaling, size_scaling


def models_table(rows) -> pd.DataFrame:
    return pd.DataFrame([{"N": n, "alpha": a, "seed": s, "m_important": m, "converged": c}
                         for n, a, s, m, c in rows])


def test_seed_averaged_fit_is_polyfit_of_the_log_seed_means():
    rng = np.random.default_rng(0)
    rows = [(n, 2, s, int(rng.integers(1, 9)), True) for n in (8, 10, 12, 14, 16) for s in range(5)]
    rows += [(12, 2, 5, 0, True), (16, 2, 5, 40, False)]
    models = models_table(rows)
    fit = seed_averaged_scaling(models).iloc[0]
    ok = models[models.converged]
    means = ok.groupby("N")["m_important"].mean()
    k, log_a = np.polyfit(np.log(means.index.to_numpy(float)), np.log(means.to_numpy()), 1)
    assert np.isclose(fit.k, k, rtol=1e-12) and np.isclose(fit.a, np.exp(log_a), rtol=1e-12)
    assert fit.models == 26 and fit.n_points == 5 and not fit.degenerate


def test_models_with_no_important_units_are_counted_and_degenerate_fits_flagged():
    rows = [(8, 5, 0, 0, True), (8, 5, 1, 2, True), (10, 5, 0, 0, True), (10, 5, 1, 3, True), (12, 5, 0, 0, True)]
    per_model = size_scaling(models_table(rows)).iloc[0]
    assert per_model.n_zero == 3 and per_model.n_points == 2
    assert per_model.degenerate and np.isnan(per_model.r2) and np.isnan(per_model.k_se)
    averaged = seed_averaged_scaling(models_table(rows)).iloc[0]
    assert averaged.n_zero == 1 and averaged.n_points == 2 and averaged.degenerate
