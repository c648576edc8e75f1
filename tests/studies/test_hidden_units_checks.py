"""The exact checks of a hidden-unit study's training: read from a run's log against hand-computed ε, and the
outcome of each model (converged, collapsed, stalled) against a table built by hand."""

import json

import numpy as np
import pandas as pd

from physlens.runs import Run
from physlens.studies.hidden_units_checks import (criterion_summary, exact_checks, failure_anatomy, failure_summary,
                                                  importance_around_collapse, importance_at_sampled_stop, importance_by_path,
                                                  sampled_criterion,
                                                  sampled_stop_summary)

E0 = -5.387390917445205
"""The exact ground-state energy of the 12-site Heisenberg ring (J = 1), the reference of the run below."""


def logged_run(tmp_path, rows) -> Run:
    config = {"kind": "quantum", "system": "heisenberg-ring", "size": 12}
    run = Run.create(tmp_path / "run", config, {"energy": E0, "unit": "J"})
    (run.path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run


def test_exact_checks_read_the_full_sum_energies_against_the_reference(tmp_path):
    rows = [{"step": 0, "energy": -3.0, "energy_fullsum": -2.9962}, {"step": 1, "energy": -3.1},
            {"step": 25, "energy": -5.38, "energy_fullsum": -5.3820}, {"step": 26, "energy": -5.38},
            {"step": 50, "energy": -5.38, "energy_fullsum": 2.9964}]
    checks = exact_checks(logged_run(tmp_path, rows))
    assert checks["step"].tolist() == [0, 25, 50]
    expected = [abs(-2.9962 - E0) / abs(E0), abs(-5.3820 - E0) / abs(E0), abs(2.9964 - E0) / abs(E0)]
    assert np.allclose(checks["eps"], expected, rtol=1e-15)
    assert checks["collapsed"].tolist() == [False, False, True]
    assert checks["eps"].iloc[2] > 1.0


def test_a_run_without_full_sum_checks_gives_an_empty_table(tmp_path):
    checks = exact_checks(logged_run(tmp_path, [{"step": 0, "energy": -3.0}]))
    assert checks.empty and list(checks.columns) == ["step", "energy", "eps", "collapsed"]


def test_failure_anatomy_names_how_each_model_ended():
    collapse = "collapsed: ε = 1.56, the state sits on 1 configuration(s) with energy variance 0.027; allowed: …"
    models = pd.DataFrame([{"N": 12, "alpha": 2, "seed": s, "converged": c, "state": state, "reason": reason}
                           for s, c, state, reason in ((0, True, "converged", ""), (1, False, "failed", collapse),
                                                       (2, False, "finished", ""), (3, False, "failed", collapse),
                                                       (4, False, "failed", "ValueError: NaN energy"),
                                                       (5, False, "finished", ""))])
    checks = pd.DataFrame(
        [(12, 2, 0, step, eps, eps > 1) for step, eps in ((0, 0.4), (25, 1.5), (50, 9e-4))]      # collapsed once, converged
        + [(12, 2, 1, step, eps, eps > 1) for step, eps in ((0, 0.4), (25, 1.2e-3), (50, 1.56))]  # ends collapsed
        # seed 3: its run folder is gone, its row alone says it collapsed; seed 4: an exception
        + [(12, 2, 2, step, eps, eps > 1) for step, eps in ((0, 0.4), (25, 1.3e-3), (50, 5e-3))]  # drifts back up
        # seed 5: the run's own verdict is not collapsed (the state spread over many configurations), its last
        # exact check is above 0 J
        + [(12, 2, 5, step, eps, eps > 1) for step, eps in ((0, 0.4), (25, 1.1e-3), (50, 1.25))],
        columns=["N", "alpha", "seed", "step", "eps", "collapsed"])
    anatomy = failure_anatomy(models, checks).set_index("seed")
    assert anatomy["outcome"].tolist() == ["converged", "collapsed", "stalled", "collapsed", "error", "collapsed"]
    assert anatomy.loc[0, "first_collapse_step"] == 25 and np.isclose(anatomy.loc[0, "collapsed_fraction"], 1 / 3)
    assert anatomy.loc[1, "best_eps"] == 1.2e-3 and anatomy.loc[1, "best_step"] == 25
    assert anatomy.loc[2, "last_eps"] == 5e-3 and np.isnan(anatomy.loc[2, "first_collapse_step"])
    assert anatomy.loc[3, "checks"] == 0 and np.isnan(anatomy.loc[3, "best_eps"])
    summary = failure_summary(anatomy.reset_index()).iloc[0]
    assert (summary.models, summary.converged, summary.collapsed, summary.stalled, summary.error) == (6, 1, 3, 1, 1)
    assert summary.with_checks == 4 and np.isclose(summary.checks_collapsed, (1 / 3 + 1 / 3 + 0 + 1 / 3) / 4)
    assert summary.ever_collapsed == 3 and summary.first_collapse_median == 50
    assert np.isclose(summary.missed_best_eps_median, 1.2e-3)


def test_importance_by_path_splits_the_converged_models_by_whether_they_collapsed_first():
    # N = 16, α = 3: seeds 0, 1 never collapse; seeds 2, 3 pass through the collapse, seed 3 ending with m′ = 0;
    # seed 4 has no stored checks; seed 5 collapsed and never converged (left out). N = 18, α = 2: one direct model.
    rows = [(16, 3, 0, True, 12, 0.25, 0.6), (16, 3, 1, True, 18, 0.375, 0.8), (16, 3, 2, True, 3, 0.0625, 0.5),
            (16, 3, 3, True, 0, 0.0, np.nan), (16, 3, 4, True, 6, 0.125, 0.7), (16, 3, 5, False, 20, 0.42, 0.1),
            (18, 2, 0, True, 9, 0.25, 0.9)]
    models = pd.DataFrame(rows, columns=["N", "alpha", "seed", "converged", "m_important", "frac_important", "rho"])
    models["state"], models["reason"] = np.where(models["converged"], "converged", "failed"), ""
    checks = pd.DataFrame(
        [(16, 3, seed, step, eps, eps > 1) for seed in (0, 1) for step, eps in ((0, 0.5), (25, 9e-4))]
        + [(16, 3, seed, step, eps, eps > 1) for seed in (2, 3, 5) for step, eps in ((0, 0.5), (25, 1.4), (50, 9e-4))]
        + [(18, 2, 0, step, eps, eps > 1) for step, eps in ((0, 0.5), (25, 8e-4))],
        columns=["N", "alpha", "seed", "step", "eps", "collapsed"])
    table = importance_by_path(models, failure_anatomy(models, checks))
    assert list(zip(table["N"], table["path"])) == [(16, "direct"), (16, "through the collapse"), (16, "not recorded"),
                                                    (18, "direct")]
    by = table.set_index(["N", "path"])
    assert by["models"].tolist() == [2, 2, 1, 1] and by["m_zero"].tolist() == [0, 1, 0, 0]
    assert np.isclose(by.loc[(16, "direct"), "frac_mean"], (0.25 + 0.375) / 2)
    assert np.isclose(by.loc[(16, "through the collapse"), "frac_median"], 0.0625 / 2)
    assert np.isclose(by.loc[(16, "through the collapse"), "rho_mean"], 0.5)
    assert np.isclose(by.loc[(16, "not recorded"), "frac_mean"], 0.125)


def test_importance_around_collapse_takes_the_last_snapshot_before_the_first_collapsed_check():
    # N = 16, α = 3: seed 0 collapses first at step 50 and converges at 75; seed 1 never collapses (left out);
    # seed 2 collapses at step 25, before its second snapshot, and has none earlier but step 0.
    models = pd.DataFrame([(16, 3, seed, True, "converged", "", steps, 9e-4, frac, rho)
                           for seed, steps, frac, rho in ((0, 75, 0.0625, 0.7), (1, 50, 0.25, 0.4), (2, 75, 0.125, 0.6))],
                          columns=["N", "alpha", "seed", "converged", "state", "reason", "steps", "eps",
                                   "frac_important", "rho"])
    checks = pd.DataFrame(
        [(16, 3, 0, step, eps, eps > 1) for step, eps in ((0, 0.5), (25, 8e-3), (50, 1.4), (75, 9e-4))]
        + [(16, 3, 1, step, eps, eps > 1) for step, eps in ((0, 0.5), (25, 5e-3), (50, 9e-4))]
        + [(16, 3, 2, step, eps, eps > 1) for step, eps in ((0, 0.5), (25, 1.3), (50, 1.2), (75, 9e-4))],
        columns=["N", "alpha", "seed", "step", "eps", "collapsed"])
    along = pd.DataFrame([(16, 3, seed, step, eps, frac, rho) for seed in (0, 1, 2)
                          for step, eps, frac, rho in ((0, 0.5, 1.0, 0.1), (40, 6e-3, 0.1875 + seed, 0.8))],
                         columns=["N", "alpha", "seed", "step", "eps", "frac_important", "rho"])
    table = importance_around_collapse(models, failure_anatomy(models, checks), along).set_index("seed")
    assert table.index.tolist() == [0, 2]
    assert (table.loc[0, "first_collapse_step"], table.loc[0, "before_step"]) == (50, 40)
    assert (table.loc[0, "before_frac"], table.loc[0, "before_eps"], table.loc[0, "frac_important"]) == (0.1875, 6e-3, 0.0625)
    assert (table.loc[2, "first_collapse_step"], table.loc[2, "before_step"], table.loc[2, "before_frac"]) == (25, 0, 1.0)
    assert importance_around_collapse(models, failure_anatomy(models, checks), along.iloc[:0]).empty


def _criteria_tables():
    """Three models of N = 14, α = 3 with exact checks every 25 steps and a sampled ε at every step."""
    checks = pd.DataFrame(
        [(14, 3, 0, step, eps, eps > 1) for step, eps in ((0, 0.4), (25, 1.3), (50, 1.4))]       # collapses at 25
        + [(14, 3, 1, step, eps, eps > 1) for step, eps in ((0, 0.4), (25, 4e-3), (50, 8e-4))]   # converges at 50
        + [(14, 3, 2, step, eps, eps > 1) for step, eps in ((0, 0.4), (25, 0.2), (50, 0.1))],    # never below tol
        columns=["N", "alpha", "seed", "step", "eps", "collapsed"])
    sampled = {0: np.r_[np.full(20, 0.3), np.full(31, 5e-4)],            # below tol from step 20: the chains see no collapse
               1: np.r_[np.full(24, 0.3), 9e-4, np.full(26, 2e-3)],      # one noisy iteration below tol at 24
               2: np.full(51, 0.05)}
    history = pd.concat([pd.DataFrame({"N": 14, "alpha": 3, "seed": seed, "step": np.arange(51), "eps": eps})
                         for seed, eps in sampled.items()])
    return history, checks


def test_the_sampled_rule_fires_where_the_estimate_first_falls_below_tol():
    history, checks = _criteria_tables()
    one = sampled_criterion(history, checks).set_index("seed")
    assert one.loc[0, "sampled_step"] == 20 and one.loc[0, "exact_eps_then"] == 1.3 and one.loc[0, "collapsed_then"]
    assert one.loc[1, "sampled_step"] == 24 and one.loc[1, "exact_eps_then"] == 4e-3 and not one.loc[1, "collapsed_then"]
    assert np.isnan(one.loc[2, "sampled_step"]) and np.isnan(one.loc[2, "exact_step"])
    assert np.isnan(one.loc[0, "exact_step"]) and one.loc[1, "exact_step"] == 50
    # averaged over 5 iterations, seed 1's single noisy estimate no longer counts; seed 0's plateau does, from 24
    five = sampled_criterion(history, checks, window=5).set_index("seed")
    assert five.loc[0, "sampled_step"] == 24 and np.isnan(five.loc[1, "sampled_step"])
    summary = criterion_summary(pd.concat([sampled_criterion(history, checks), sampled_criterion(history, checks, window=5)]))
    first = summary[summary.window == 1].iloc[0]
    assert (first.models, first.converged_exact, first.converged_sampled) == (3, 1, 2)
    assert (first.sampled_but_exact_above_tol, first.sampled_but_collapsed) == (2, 1)
    assert np.isclose(first.exact_eps_then_median, (1.3 + 4e-3) / 2)
    assert summary[summary.window == 5].iloc[0].converged_sampled == 1


def test_the_analysis_where_the_sampled_rule_stops_is_the_nearest_snapshot():
    snapshot_steps = [0, 100, 200, 300]
    along = pd.DataFrame([{"N": 12, "alpha": 2, "seed": seed, "step": step, "energy": -5.0 + step / 1000,
                           "eps": 0.1 / (1 + step), "frac_important": step / 400, "rho": 0.2 + step / 1000,
                           "max_energy_impact": step / 1000}
                          for seed in (0, 1, 2, 4) for step in snapshot_steps])
    along.loc[(along.seed == 2) & (along.step == 300), "energy"] = 3.0
    criteria = pd.DataFrame({"N": 12, "alpha": 2, "seed": [0, 1, 2, 3, 4], "window": 1,
                             "sampled_step": [150, np.nan, 290, 40, 210]})
    stops = importance_at_sampled_stop(criteria, along).set_index("seed")
    # seed 1 never met the sampled rule, seed 3 kept no snapshots; seed 0's tie goes to the earlier snapshot
    assert stops.index.tolist() == [0, 2, 4]
    assert stops["snapshot_step"].tolist() == [100, 300, 200]
    assert stops["collapsed"].tolist() == [False, True, False]
    assert stops.loc[4, "frac_important"] == 0.5 and stops.loc[4, "eps"] == 0.1 / 201
    summary = sampled_stop_summary(stops.reset_index()).iloc[0]
    assert (summary.models, summary.collapsed, summary.step_offset_median) == (3, 1, 10)
    # the collapsed snapshot is left out of the means: seeds 0 and 4 alone
    assert np.isclose(summary.frac_mean, (0.25 + 0.5) / 2) and np.isclose(summary.frac_std, np.std([0.25, 0.5], ddof=1))
    assert np.isclose(summary.rho_mean, (0.3 + 0.4) / 2) and np.isclose(summary.eps_median, (0.1 / 101 + 0.1 / 201) / 2)


def test_no_snapshots_give_an_empty_table():
    criteria = pd.DataFrame({"N": [12], "alpha": [2], "seed": [0], "window": [1], "sampled_step": [150.0]})
    assert importance_at_sampled_stop(criteria, pd.DataFrame()).empty
    assert sampled_stop_summary(importance_at_sampled_stop(criteria, pd.DataFrame())).empty
