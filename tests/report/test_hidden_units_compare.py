"""Tests of physlens.report.hidden_units_compare: the page compares the protocols only at sizes both studied."""

import numpy as np
import pandas as pd

from physlens.report.hidden_units_compare import comparison_report

NUMBERS = ["frac_mean", "frac_std", "paper_frac", "rho_mean", "rho_std", "paper_rho", "steps_median", "eps_median",
           "max_impact_median", "norm_median", "recovered_important", "recovered_rest"]


def _tables() -> dict[str, pd.DataFrame]:
    rows = [{"protocol": protocol, "N": n, "alpha": alpha, "models": 3, "converged": 3,
             **{name: 0.1 * alpha + 0.01 * n for name in NUMBERS}}
            for protocol, sizes in (("physlens-sr", (8, 12)), ("rbm-paper", (12, 14))) for n in sizes for alpha in (2, 4)]
    models = pd.DataFrame({"protocol": ["physlens-sr", "rbm-paper"], "converged": [True, True],
                           "norm_median": [1.0, 2.0], "eps": [5e-4, 8e-4], "max_energy_impact": [0.01, 0.4]})
    return {"by_alpha": pd.DataFrame(rows), "models": models, "fits": pd.DataFrame({"protocol": ["rbm-paper"], "k": [0.4]}),
            "window": pd.DataFrame({"protocol": ["rbm-paper"], "tau_low": [0.15]})}


def test_tables_hold_only_the_sizes_both_protocols_studied():
    report = comparison_report(_tables(), pd.DataFrame(), pd.DataFrame({"protocol": ["physlens-sr", "rbm-paper"]}),
                               ["synthetic"])
    per_alpha = next(s for s in report.sections if s.title == "Important units and ρ per α")
    for table in per_alpha.tables:
        assert set(table.frame["N"]) == {12} and len(table.frame) == 4
    np.testing.assert_allclose(sorted(per_alpha.tables[0].frame.frac_mean), [0.32, 0.32, 0.52, 0.52])
    assert "Importance along training" not in [s.title for s in report.sections]


def test_the_sampled_stop_table_shows_the_one_iteration_rule():
    along = pd.DataFrame({"N": [12, 12], "alpha": [2, 2], "seed": [0, 0], "step": [0, 250], "eps": [0.4, 0.01],
                          "energy": [-3.2, -5.3], "collapsed": False, "frac_important": [0.0, 0.3], "rho": [0.9, 0.6],
                          "max_energy_impact": [0.0, 0.2], "weight_sz0": [1.0, 1.0]})
    stops = pd.DataFrame({"protocol": "rbm-paper", "window": [1, 50], "N": 12, "alpha": 2, "models": 4, "collapsed": [0, 2],
                          "step_offset_median": 60.0, "eps_median": 6e-3, "frac_mean": [0.26, 0.3], "frac_std": 0.07,
                          "paper_frac": 0.53, "rho_mean": 0.8})
    report = comparison_report(_tables(), along, pd.DataFrame({"protocol": ["rbm-paper"]}), ["synthetic"], stops)
    section = next(s for s in report.sections if s.title == "Importance along training")
    assert len(section.tables) == 1 and section.tables[0].frame["frac_mean"].tolist() == [0.26]
    assert "would have stopped" in section.tables[0].caption


def test_the_collapse_passage_table_sets_each_model_before_the_collapse_beside_its_converged_state():
    along = pd.DataFrame({"N": [16, 16], "alpha": [3, 3], "seed": [0, 0], "step": [0, 1500], "eps": [0.4, 7e-3],
                          "energy": [-4.0, -7.0], "collapsed": False, "frac_important": [0.0, 0.02], "rho": [0.9, 0.6],
                          "max_energy_impact": [0.0, 0.2], "weight_sz0": [1.0, 1.0]})
    passages = pd.DataFrame({"protocol": "rbm-paper", "N": [16], "alpha": [3], "seed": [3], "first_collapse_step": [1675],
                             "before_step": [1500], "before_eps": [7.1e-3], "before_frac": [0.021], "before_rho": [0.5],
                             "steps": [3000], "eps": [6.3e-4], "frac_important": [0.104], "rho": [0.7]})
    tables = {**_tables(), "collapse_passage": passages}
    report = comparison_report(tables, along, pd.DataFrame({"protocol": ["rbm-paper"]}), ["synthetic"])
    section = next(s for s in report.sections if s.title == "Importance along training")
    assert len(section.tables) == 1
    frame = section.tables[0].frame
    assert (frame["before_frac"].tolist(), frame["frac_important"].tolist()) == ([0.021], [0.104])
    assert "passed through the collapse" in section.tables[0].caption
