"""The paper's case studies: case pages, the α study's numbers against a fresh NetKet full sum, resumption."""

import netket as nk
import pytest

from physlens.errors import PhyslensError
from physlens.quantum.train import load
from physlens.studies.executors import LocalExecutor
from physlens.studies.hidden_units_cases import case_studies, run_cases


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    out = tmp_path_factory.mktemp("cases") / "out"
    table = run_cases(out, lambda: LocalExecutor(1), steps=20, alpha_steps=10, progress=False)
    return out, table


def test_case_pages_and_alpha_table(cases):
    out, table = cases
    assert (out / "report.html").is_file()
    assert [p.name for p in sorted((out / "cases").glob("N0*.html"))] == ["N04-a2-s00.html", "N08-a2-s00.html"]
    assert "Phase inversion" in (out / "cases" / "N08-a2-s00.html").read_text()
    assert table["alpha"].tolist() == [1, 2, 3, 4] and table["steps"].tolist() == [10] * 4
    alpha_study = case_studies(out, alpha_steps=10)[1]
    for row, task in zip(table.itertuples(), alpha_study.tasks()):
        run = load(out / "alpha" / "runs" / task.name)
        assert run.config["protocol"] == "rbm-paper" and run.system.hilbert.n_states == 2**10
        fresh = nk.vqs.FullSumState(run.system.hilbert, run.model, variables=run.variables)
        assert row.energy == pytest.approx(float(fresh.expect(run.system.hamiltonian).mean.real), abs=1e-10)


def test_same_folder_other_settings_is_refused(cases):
    out, _ = cases
    before = (out / "study.json").read_bytes()
    with pytest.raises(PhyslensError, match="other settings"):
        run_cases(out, lambda: LocalExecutor(1), steps=21, alpha_steps=10, progress=False)
    assert (out / "study.json").read_bytes() == before
