"""Two protocols side by side: every aggregate against a recomputation from the stored tables and runs."""

import numpy as np
import pandas as pd
import pytest

from physlens.quantum.train import load
from physlens.studies import hidden_units
from physlens.studies.executors import LocalExecutor
from physlens.studies.hidden_units_compare import compare, sampled_stops, write_comparison
from physlens.studies.hidden_units_summary import seed_averaged_scaling


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    configs = {"physlens-sr": hidden_units.StudyConfig(sizes=(6, 8), alphas=(1,), seeds=2, extra=(), steps=300,
                                                       out=str(root / "sr")),
               "rbm-paper": hidden_units.StudyConfig(sizes=(6,), alphas=(1,), seeds=1, extra=(), steps=40,
                                                     protocol="rbm-paper", snapshot_every=20, out=str(root / "paper"))}
    for config in configs.values():
        hidden_units.run_study(config, LocalExecutor(1), progress=False)
    return root, {p: c.out for p, c in configs.items()}


def test_aggregates_equal_a_recomputation(studies):
    _, folders = studies
    tables = compare(folders)
    models = tables["models"]
    sr = pd.read_parquet(f"{folders['physlens-sr']}/models.parquet")
    units = pd.read_parquet(f"{folders['physlens-sr']}/units.parquet")
    for m in sr.itertuples():
        row = models[(models.protocol == "physlens-sr") & (models.N == m.N) & (models.seed == m.seed)].iloc[0]
        mine = units[(units.N == m.N) & (units.seed == m.seed)]
        assert row.max_energy_impact == mine["energy_impact"].max()
        variables = load(f"{folders['physlens-sr']}/runs/N{m.N:02d}-a1-s{m.seed:02d}").variables
        norms = np.linalg.norm(np.asarray(variables["params"]["hidden"]["kernel"]).T, axis=1)
        assert row.norm_median == pytest.approx(np.median(norms), rel=1e-12)
    for r in tables["by_alpha"].itertuples():
        ok = models[(models.protocol == r.protocol) & (models.N == r.N) & models.converged]
        assert r.converged == len(ok)
        if len(ok):
            assert r.frac_mean == pytest.approx(ok["frac_important"].mean())
    fits = tables["fits"][tables["fits"].protocol == "physlens-sr"].drop(columns=["protocol", "paper_k"])
    pd.testing.assert_frame_equal(fits.reset_index(drop=True), seed_averaged_scaling(sr), check_dtype=False)


def test_report_with_importance_along_training(studies, browser):
    root, folders = studies
    tables = write_comparison(root / "cmp", folders)
    assert set(tables["along"]["protocol"]) == {"rbm-paper"} and tables["along"]["step"].tolist() == [0, 20]
    assert "sampled_stop" in tables and (root / "cmp" / "sampled_stop.csv").exists()
    assert "collapse_passage" in tables and (root / "cmp" / "collapse_passage.csv").exists()
    page = (root / "cmp" / "report.html").read_text()
    assert "Importance along training" in page and "rbm-paper" in page and not browser.forbidden.search(page)
    result = browser.measure(root / "cmp" / "report.html")
    assert result["scrollWidth"] <= browser.width and result["decoded"] == result["images"] == result["captioned"] > 0


def test_sampled_stops_read_the_study_and_name_the_paper(tmp_path):
    # one N = 12, α = 2 model: sampled ε below 1e-3 first at step 3 alone, then from step 6 on
    eps = [0.5, 0.1, 0.01, 9e-4, 2e-3, 2e-3, 5e-4, 5e-4, 5e-4, 5e-4]
    history = pd.DataFrame({"N": 12, "alpha": 2, "seed": 0, "step": range(10), "eps": eps})
    checks = pd.DataFrame({"N": 12, "alpha": 2, "seed": 0, "step": [0, 5], "energy": [-3.0, -5.38],
                           "eps": [0.44, 1.4e-3], "collapsed": False})
    history.to_parquet(tmp_path / "history.parquet")
    checks.to_parquet(tmp_path / "checks.parquet")
    along = pd.DataFrame({"N": 12, "alpha": 2, "seed": 0, "step": [0, 4, 8], "energy": [-3.0, -5.3, 2.9],
                          "eps": [0.44, 1.6e-2, 1.5], "frac_important": [0.0, 0.25, 0.5], "rho": [0.1, 0.6, 0.9],
                          "max_energy_impact": [0.0, 0.2, 0.5]})
    stops = sampled_stops(tmp_path, along).set_index("window")
    assert stops.index.tolist() == [1]
    # window 1 fires at step 3 (nearest snapshot: 4); no 50- or 200-iteration mean exists in 10 steps
    assert stops.loc[1, "step_offset_median"] == 1 and stops.loc[1, "frac_mean"] == 0.25
    assert stops.loc[1, "collapsed"] == 0 and stops.loc[1, "paper_frac"] == 0.53
    assert sampled_stops(tmp_path, along.iloc[:0]).empty
