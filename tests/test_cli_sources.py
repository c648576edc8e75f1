"""The CLI on a network trained and saved by plain NetKet: ``info``, ``units``, ``sae`` and ``prune`` with
``--system``, ``--size`` and ``--model``, checked against NetKet's own numbers."""

import json

import flax.serialization
import netket as nk
import numpy as np
import optax
import pandas as pd
import pytest
from typer.testing import CliRunner

from physlens.cli import app
from physlens.quantum.systems import HeisenbergRing, TFIMChain

runner = CliRunner()
RING = HeisenbergRing(8)
SOURCE = ["--system", "heisenberg-ring", "--size", "8", "--model", "netket.RBM:alpha=1"]


def netket_file(folder, system, seed=0):
    vs = nk.vqs.FullSumState(system.hilbert, nk.models.RBM(alpha=1, param_dtype=float), seed=seed)
    nk.driver.VMC(system.hamiltonian, optax.sgd(0.05), variational_state=vs,
                  preconditioner=nk.optimizer.SR(diag_shift=0.01)).run(30, show_progress=False)
    path = folder / "rbm.mpack"
    path.write_bytes(flax.serialization.to_bytes(vs.variables))
    return path, vs


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return netket_file(tmp_path_factory.mktemp("netket"), RING)


def test_info_on_a_saved_netket_state(saved):
    path, vs = saved
    result = runner.invoke(app, ["info", str(path), *SOURCE])
    assert result.exit_code == 0, result.output
    energy = float(vs.expect(RING.hamiltonian).mean.real)
    assert "netket.RBM(alpha=1)" in result.stdout and f"{energy:.10f}" in result.stdout
    assert "exact full sum" in result.stdout and "hidden.post" in result.stdout


def test_units_on_a_saved_netket_state_writes_its_report_beside_it(saved):
    path, _ = saved
    result = runner.invoke(app, ["units", str(path), *SOURCE, "--tau", "0.2"])
    assert result.exit_code == 0, result.output
    report = path.with_name("rbm.mpack.units.html")
    assert report.is_file() and "Hidden units of rbm.mpack" in report.read_text()
    again = runner.invoke(app, ["units", str(path), *SOURCE])
    assert again.exit_code == 0, "its own earlier report may be replaced"


def test_units_never_overwrites_a_file_it_did_not_write(saved, tmp_path):
    path, _ = saved
    mine = tmp_path / "notes.html"
    mine.write_text("<html>my notes</html>")
    result = runner.invoke(app, ["units", str(path), *SOURCE, "--report", str(mine)])
    assert result.exit_code == 2 and "was not written by this command" in result.stderr
    assert mine.read_text() == "<html>my notes</html>"


@pytest.mark.parametrize("args, message", [
    (["info", "{path}", "--size", "8", "--model", "netket.RBM:alpha=1"], "give its system"),
    (["info", "{path}", "--system", "heisenberg-ring", "--size", "8"], "pass model="),
    (["info", "{path}", "--system", "heisenberg-ring", "--size", "8", "--model", "netket.RBM:alpha=2"], "does not fit"),
    (["info", "{path}", "--system", "tfim-chain", "--size", "8", "--model", "netket.RBM:alpha=1", "-p", "h=abc"], "h"),
    (["units", "{missing}", *SOURCE], "does not exist"),
])
def test_bad_sources_are_one_line(saved, args, message):
    path, _ = saved
    args = [a.format(path=path, missing=path.with_name("missing.mpack")) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_sae_on_a_saved_netket_state(saved, tmp_path):
    path, _ = saved
    out = tmp_path / "sae"
    result = runner.invoke(app, ["sae", str(path), *SOURCE, "--latents", "8", "--k", "2", "--steps", "60",
                                 "--scales", "0:2:3", "--dashboards", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "report.html").is_file() and "hidden.post" in (out / "RESULTS.md").read_text()


def test_prune_a_saved_netket_network(tmp_path):
    chain = TFIMChain(6, h=1.0)
    path, vs = netket_file(tmp_path, chain, seed=2)
    out = tmp_path / "lottery"
    result = runner.invoke(app, ["prune", str(path), "--system", "tfim-chain", "--size", "6", "-p", "h=1.0",
                                 "--model", "netket.RBM:alpha=1", "--rounds", "1", "--steps", "3", "--dense-steps", "1",
                                 "--controls", "none", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    study = json.loads((out / "study.json").read_text())
    assert study["model"] == "netket.RBM:alpha=1" and study["start"] == str(path)
    levels = pd.read_csv(out / "levels.csv")
    assert list(levels.level) == [0, 1] and levels.density.iloc[1] == pytest.approx((36 - int(0.3 * 36)) / 36)
    with np.load(out / "levels" / "level_01" / "imp_seed0.mask.npz") as mask, \
            np.load(out / "levels" / "level_00" / "imp_seed0.params.npz") as dense:
        assert mask["Dense/kernel"].sum() == 26 and dense.files
