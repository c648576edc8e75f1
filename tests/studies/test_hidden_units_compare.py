"""Two protocols side by side: every aggregate against a recomputation from the stored tables and runs."""

import numpy as np
import pandas as pd
import pytest

from physlens.quantum.train import load
from physlens.studies import hidden_units
from physlens.studies.executors import LocalExecutor
from physlens.studies.hidden_units_compare import compare, write_comparison
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
    page = (root / "cmp" / "report.html").read_text()
    assert "Importance along training" in page and "rbm-paper" in page and not browser.forbidden.search(page)
    result = browser.measure(root / "cmp" / "report.html")
    assert result["scrollWidth"] <= browser.width and result["decoded"] == result["images"] == result["captioned"] > 0
