"""The exact checks of a hidden-unit study's training: read from a run's log against hand-computed ε, and the
outcome of each model (converged, collapsed, stalled) against a table built by hand."""

import json

import numpy as np
import pandas as pd

from physlens.runs import Run
from physlens.studies.hidden_units_checks import exact_checks, failure_anatomy, failure_summary

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
                                                       (4, False, "failed", "ValueError: NaN energy"))])
    checks = pd.DataFrame(
        [(12, 2, 0, step, eps, eps > 1) for step, eps in ((0, 0.4), (25, 1.5), (50, 9e-4))]      # collapsed once, converged
        + [(12, 2, 1, step, eps, eps > 1) for step, eps in ((0, 0.4), (25, 1.2e-3), (50, 1.56))]  # ends collapsed
        # seed 3: its run folder is gone, its row alone says it collapsed; seed 4: an exception
        + [(12, 2, 2, step, eps, eps > 1) for step, eps in ((0, 0.4), (25, 1.3e-3), (50, 5e-3))],  # drifts back up
        columns=["N", "alpha", "seed", "step", "eps", "collapsed"])
    anatomy = failure_anatomy(models, checks).set_index("seed")
    assert anatomy["outcome"].tolist() == ["converged", "collapsed", "stalled", "collapsed", "error"]
    assert anatomy.loc[0, "first_collapse_step"] == 25 and np.isclose(anatomy.loc[0, "collapsed_fraction"], 1 / 3)
    assert anatomy.loc[1, "best_eps"] == 1.2e-3 and anatomy.loc[1, "best_step"] == 25
    assert anatomy.loc[2, "last_eps"] == 5e-3 and np.isnan(anatomy.loc[2, "first_collapse_step"])
    assert anatomy.loc[3, "checks"] == 0 and np.isnan(anatomy.loc[3, "best_eps"])
    summary = failure_summary(anatomy.reset_index()).iloc[0]
    assert (summary.models, summary.converged, summary.collapsed, summary.stalled, summary.error) == (5, 1, 2, 1, 1)
    assert summary.with_checks == 3 and np.isclose(summary.checks_collapsed, (1 / 3 + 1 / 3 + 0) / 3)
    assert summary.ever_collapsed == 2 and summary.first_collapse_median == 37.5
    assert np.isclose(summary.missed_best_eps_median, 1.25e-3)
