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


def test_study_page_lists_every_model_that_did_not_converge_and_every_grid_cell():
    """On the committed paper-protocol study (collapsed models have no ε; N = 14, α = 3 has no converged model):
    the page must not drop them as empty rows."""
    from pathlib import Path

    from physlens.report.hidden_units import study_report
    from physlens.studies.hidden_units import collect
    from physlens.studies.hidden_units_summary import summarise

    tables = collect(Path(__file__).resolve().parents[2] / "docs" / "studies" / "hidden-units-paper")
    summaries = summarise(tables)
    models_section = study_report(tables, summaries, ["committed study"]).sections[0]
    by_size, not_ok = models_section.tables[1], models_section.tables[2]
    models = tables["models"]
    assert (models.state == "failed").any() and models.groupby(["N", "alpha"]).converged.sum().eq(0).any()
    body_rows = [table.to_html().split("<tbody>")[1].count("<tr") for table in (by_size, not_ok)]
    assert body_rows == [len(models.groupby(["N", "alpha"])), int((~models.converged).sum())]


def test_outcomes_count_each_way_a_model_ended_and_add_up():
    from physlens.report.hidden_units import OUTCOME_LABELS, outcomes
    from physlens.studies.hidden_units_checks import OUTCOMES, failure_anatomy

    assert set(OUTCOME_LABELS) == set(OUTCOMES), "every outcome has its column"

    models = pd.DataFrame({
        "N": 8, "alpha": 2, "seed": range(6),
        "converged": [True, True, False, False, False, False],
        "state": ["converged", "finished", "failed", "failed", "finished", "failed"],
        "reason": ["", "", "collapsed: ε = 1.56, …", "FloatingPointError: nan", "", None]})
    row = outcomes(failure_anatomy(models, pd.DataFrame())).iloc[0]
    assert row.tolist() == [6, 2, 1, 1, 2]
    assert row.iloc[1:].sum() == row["models"]
