"""Aggregates of the hidden-unit study against independent computations: numpy.polyfit on seed means,
degenerate fits flagged, models with m′ = 0 counted."""

import numpy as np
import pandas as pd

from physlens.studies.hidden_units_summary import seed_averaged_scaling, size_scaling, sublinear_window, tau_sensitivity


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


def impacts_tables(counts: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Models and unit impacts where model (N, seed) has counts[N][seed] units of impact 0.5, the rest 0."""
    models, units = [], []
    for n, per_seed in counts.items():
        for seed, m in enumerate(per_seed):
            models.append({"N": n, "alpha": 2, "seed": seed, "M": 2 * n, "m_important": m, "converged": True})
            units += [{"N": n, "alpha": 2, "seed": seed, "energy_impact": 0.5 if j < m else 0.0, "czz_impact": 0.0}
                      for j in range(2 * n)]
    return pd.DataFrame(models), pd.DataFrame(units)


def test_tau_window_fits_the_seed_means_and_skips_degenerate_taus():
    models, units = impacts_tables({8: (2, 4), 12: (3, 5), 16: (4, 6)})
    sweep = tau_sensitivity(models, units)
    at = sweep.set_index("tau").loc[0.3]
    k, _ = np.polyfit(np.log([8.0, 12.0, 16.0]), np.log([3.0, 4.0, 5.0]), 1)
    assert np.isclose(at.k_seed_mean, k, rtol=1e-12) and not at.degenerate_seed_mean
    window = sublinear_window(sweep).iloc[0]
    assert window.tau_min == 0.05 and window.tau_max == 0.45 and window.taus_below == window.taus_fitted == 9
    assert window.taus == 12 and not window.degenerate


def test_tau_window_over_two_sizes_is_degenerate():
    models, units = impacts_tables({8: (2, 4), 12: (3, 5)})
    window = sublinear_window(tau_sensitivity(models, units)).iloc[0]
    assert window.degenerate and window.taus_fitted == 0 and np.isnan(window.tau_min)


def test_results_page_writes_undefined_figures_as_dashes_and_flags_each_degenerate_fit():
    """On the committed paper-protocol study: no 'nan' reaches RESULTS.md, and each α's per-model fit row says
    whether that fit is degenerate, as the fit table does."""
    from pathlib import Path

    from physlens.studies.hidden_units import collect
    from physlens.studies.hidden_units_summary import results_markdown, summarise

    tables = collect(Path(__file__).resolve().parents[2] / "docs" / "studies" / "hidden-units-paper")
    summaries = summarise(tables)
    text = results_markdown(tables, summaries)
    assert "nan" not in text.lower()
    section = text.split("## m′ = a·N^k at τ = 0.3, per α")[1].split("Fitted to the mean")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and line[2].isdigit()]
    fits = summaries["fits"]
    assert [row.split(" | ")[0].strip("| ") for row in rows] == [str(int(a)) for a in fits.alpha]
    assert [row.rstrip(" |").endswith("yes") for row in rows] == fits.degenerate.tolist()
    assert [row.split(" | ")[6] for row in rows] == [str(int(z)) for z in fits.n_zero]
