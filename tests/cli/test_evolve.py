"""``physlens evolve``: a trained run quenched and evolved, the Néel start, resume, and one-line errors."""

import jax
import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from physlens.cli import evolve
from physlens.quantum.dynamics import load
from physlens.quantum.train import TrainConfig, train


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    """A ``physlens`` app with only the ``evolve`` command (the real app registers it beside the others)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """physlens"""

    evolve.register(app)
    return app


@pytest.fixture(scope="module")
def tfim_run(tmp_path_factory):
    """A 4-site TFIM chain at h = 0.5 trained briefly by exact SR."""
    config = TrainConfig(system="tfim-chain", size=4, system_params={"h": 0.5, "pbc": False}, alpha=1.0, steps=30,
                         tol=0.0, log_every=10, checkpoint_every=10)
    return train(config, tmp_path_factory.mktemp("runs") / "tfim4", progress=False)


def test_evolve_a_trained_run_after_a_field_quench(app, tfim_run, tmp_path):
    out = tmp_path / "quench"
    result = CliRunner().invoke(app, ["evolve", str(tfim_run.path), "--quench", "h=1.0", "--t-end", "0.2", "--dt",
                                      "0.05", "--save-dt", "0.1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "TDVP to t = 0.2" in result.stderr and "2/2" in result.stderr
    evolution = load(out)
    after = evolution.config.build_quench().after
    assert after.params()["h"] == 1.0 and evolution.config.build_quench().before.params()["h"] == 0.5
    np.testing.assert_allclose(evolution.nqs.times_T, [0.0, 0.1, 0.2], atol=1e-15)
    log_psi_S = np.asarray(tfim_run.model.apply(tfim_run.variables, after.hilbert.all_states()))
    psi_S = np.exp(log_psi_S - log_psi_S.max())
    exact0_S = evolution.config.build_quench().initial_vector()
    assert evolution.fidelity_T[0] == pytest.approx(abs(np.vdot(psi_S, exact0_S)) ** 2 / np.vdot(psi_S, psi_S).real,
                                                    abs=1e-12)
    assert (out / "report.html").is_file() and (out / "curves.csv").is_file()
    assert "fidelity" in (out / "report.html").read_text()


def test_evolve_from_neel_and_resume(app, tmp_path):
    out = tmp_path / "neel"
    args = ["evolve", "--neel", "heisenberg-ring", "--size", "4", "--t-end", "0.1", "--dt", "0.01", "--save-dt",
            "0.05", "--out", str(out), "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "TDVP" not in result.stderr
    evolution = load(out)
    assert evolution.config.build_quench().start == "neel"
    assert evolution.exact.m_s_T[0] == pytest.approx(0.5)
    assert evolution.fidelity_T[0] > 0.99 and evolution.status["state"] == "finished"
    again = CliRunner().invoke(app, ["evolve", "--resume", str(out)])
    assert again.exit_code == 0, again.output
    jax.tree.map(np.testing.assert_array_equal, load(out).parameters(2), evolution.parameters(2))


@pytest.mark.parametrize("args, message", [
    (["evolve"], "not both or neither"),
    (["evolve", "--neel", "heisenberg-ring"], "--neel needs --size"),
    (["evolve", "--neel", "heisenberg-ring", "--size", "4", "--t-end", "1", "--dt", "0.3", "--save-dt", "0.3"],
     "whole number"),
    (["evolve", "--neel", "heisenberg-ring", "--size", "5"], "even number of sites"),
])
def test_bad_input_is_one_line_and_exit_code_2(app, args, message):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


@pytest.fixture(scope="module")
def quenched(app, tfim_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("quenched") / "quench"
    result = CliRunner().invoke(app, ["evolve", str(tfim_run.path), "--quench", "h=1.0", "--t-end", "0.2", "--dt",
                                      "0.05", "--save-dt", "0.1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


STEER = ["--d-sae", "6", "--k", "2", "--sae-steps", "20", "--strengths", "0,2"]


def test_evolve_steer_writes_both_continuations_and_refuses_a_foreign_folder(app, quenched, tmp_path):
    out = tmp_path / "steer"
    result = CliRunner().invoke(app, ["evolve-steer", str(quenched), "--t0", "0.1", "--feature", "1", *STEER,
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "steered.csv")
    assert set(frame.strength) == {0.0, 2.0} and frame.t.min() == pytest.approx(0.1)
    at_t0 = frame[np.isclose(frame.t, 0.1)]
    np.testing.assert_allclose(at_t0.delta_propagated, at_t0.delta_feature, atol=1e-12)
    energy = frame[frame.observable == "energy"]
    for _, rows in energy.groupby("strength"):
        np.testing.assert_allclose(rows.steer_then_evolve, rows.steer_then_evolve.iloc[0], atol=1e-10)
    assert len(pd.read_csv(out / "summary.csv")) == 2 and (out / "report.html").is_file()
    again = CliRunner().invoke(app, ["evolve-steer", str(quenched), "--t0", "0.1", "--feature", "1", *STEER,
                                     "--out", str(out)])
    assert again.exit_code == 0, again.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    other = CliRunner().invoke(app, ["evolve-steer", str(quenched), "--t0", "0", *STEER, "--out", str(out)])
    assert other.exit_code == 2 and "other than this steering" in other.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize("args, message", [
    (["--t0", "0.2"], "not a saved time with a later one"),
    (["--t0", "0.05"], "not a saved time"),
    (["--strengths", "a,b"], "comma-separated numbers"),
    (["--mode", "push"], "--mode"),
    (["--feature", "9"], "out of range"),
])
def test_evolve_steer_bad_input_is_one_line_and_touches_nothing(app, quenched, tmp_path, args, message):
    out = tmp_path / "steer"
    result = CliRunner().invoke(app, ["evolve-steer", str(quenched), *STEER, *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    assert not out.exists()
