"""The physlens command: bad input gets one line and exit code 2; a killed run resumes."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from typer.testing import CliRunner

from physlens.cli import app
from physlens.quantum import train as training
from physlens.quantum.train import load as load_run
from physlens.runs import Run

runner = CliRunner()


def assert_one_line_error(result, match):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("physlens: error:"), result.stderr
    assert match in lines[0]
    assert "Traceback" not in result.output + result.stderr


@pytest.mark.parametrize("args,match", [
    (["--system", "kagome"], "unknown system 'kagome'; allowed: heisenberg-ring"),
    (["--size", "7"], "even number of sites N >= 4"),
    (["--alpha", "0"], "alpha must be > 0"),
    (["--alpha", "-2"], "alpha must be > 0"),
    (["--model", "cnn"], "unknown model 'cnn'; allowed: rbm, ffnn"),
    (["--param", "g=1"], "unknown parameter(s) g for heisenberg-ring"),
    (["--model", "transformer", "--pos-encoding", "rotary"], "unknown pos_encoding 'rotary'"),
    (["--model", "transformer", "--size", "10", "--patch-size", "4"], "patch_size 4 must be >= 1 and divide"),
    (["--preset", "heisenberg-8x8"], "unknown preset 'heisenberg-8x8'"),
    (["--learning-rate-final", "0.5"], "learning_rate_final must be in (0, learning_rate = 0.05]"),
    (["--sr-solver", "lu"], "unknown sr_solver 'lu'; allowed: cg, cholesky"),
    (["--diag-shift", "-1"], "tol and diag_shift must be >= 0"),
])
def test_train_bad_input(tmp_path, args, match):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", *args, "--out", str(out)])
    assert_one_line_error(result, match)
    assert not out.exists(), "nothing may be written for bad input"


def test_unknown_config_key(tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('size = 8\nlearning_rat = 0.1\n')
    result = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(tmp_path / "run")])
    assert_one_line_error(result, "unknown config key(s) learning_rat; allowed:")
    assert not (tmp_path / "run").exists()


def test_train_from_a_preset_with_typed_flags_overriding_it(tmp_path):
    """Another size drops the preset's closed-form reference (for N = 20) for the exact one of the new size."""
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--preset", "tfim-chain-20-converged", "--size", "8", "--steps", "2",
                                 "--samples", "64", "--diag-shift", "0.002", "--sr-solver", "cholesky", "--no-progress",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    run = training.load(out)
    config = run.config
    assert (config["system"], config["size"], config["d_model"], config["learning_rate_final"]) == ("tfim-chain", 8,
                                                                                                   16, 0.003)
    assert (config["steps"], config["samples"], config["tol"], config.get("reference_energy")) == (2, 64, 1e-4, None)
    assert (config["diag_shift"], config["sr_solver"]) == (0.002, "cholesky")
    exact = np.linalg.eigvalsh(run.system.sparse_hamiltonian().toarray())[0]
    assert run.reference["energy"] == pytest.approx(exact, abs=1e-9)
    both = runner.invoke(app, ["train", "--preset", "heisenberg-4x4", "--config", str(tmp_path / "c.toml"),
                               "--out", str(tmp_path / "other")])
    assert_one_line_error(both, "give --config or --preset, not both")


def test_info_on_missing_and_corrupt_runs(tmp_path):
    assert_one_line_error(runner.invoke(app, ["info", str(tmp_path / "nope")]), "does not exist")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.toml").write_text("this is = = not toml")
    assert_one_line_error(runner.invoke(app, ["info", str(tmp_path / "bad")]), "is corrupt")
    assert_one_line_error(runner.invoke(app, ["train", "--resume", str(tmp_path / "nope")]), "does not exist")


def test_info_on_run_with_corrupt_parameters(tmp_path):
    cfg = training.TrainConfig(size=8, alpha=1.0, steps=3, tol=0.0)
    training.train(cfg, tmp_path / "run", progress=False)
    (tmp_path / "run" / "params.msgpack").write_bytes(b"\x00garbage")
    assert_one_line_error(runner.invoke(app, ["info", str(tmp_path / "run")]),
                          "params.msgpack does not match the sha256 recorded in status.json")


def test_train_and_info(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--size", "6", "--alpha", "1", "--steps", "30", "--no-progress", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "E0 (exact)" in result.stdout and "-2.8027756377" in result.stdout
    info = runner.invoke(app, ["info", str(out)])
    assert info.exit_code == 0 and "-2.8027756377" in info.stdout
    assert "exact SR (shift 0.01, cg solve), sgd lr=0.05" in " ".join(info.stdout.replace("│", " ").split())


@pytest.mark.slow  # resume = uninterrupted: tests/quantum/test_train.py; a SIGKILLed CLI process resumed to the same
#                   tables: tests/studies/test_hidden_units.py; a dead writer reads as interrupted: tests/test_runs.py
def test_killed_cli_run_resumes_to_the_uninterrupted_result(tmp_path):
    """SIGKILL a real `physlens train` process after a checkpoint, resume it, compare with a straight run."""
    cfg_file = tmp_path / "cfg.toml"
    cfg_file.write_text("size = 8\nalpha = 1.0\nsteps = 400\ntol = 0.0\ncheckpoint_every = 20\n")
    out = tmp_path / "killed"
    exe = Path(sys.executable).with_name("physlens")
    env = dict(os.environ)
    proc = subprocess.Popen([str(exe), "train", "--config", str(cfg_file), "--out", str(out), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            if (out / "checkpoint.msgpack").exists() and Run.open(out).status["step"] >= 40:
                break
            if proc.poll() is not None:
                pytest.fail("the training process ended before it could be killed")
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    killed_at = Run.open(out).status
    assert killed_at["state"] == "interrupted" and killed_at["step"] < 400, "a killed run reads as interrupted"
    info = runner.invoke(app, ["info", str(out)])
    assert info.exit_code == 0 and "interrupted after" in info.stdout
    result = runner.invoke(app, ["train", "--resume", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    cfg = training.TrainConfig(size=8, alpha=1.0, steps=400, tol=0.0, checkpoint_every=20)
    straight = training.train(cfg, tmp_path / "straight", progress=False)
    resumed = load_run(out)
    for a, b in zip(jax.tree_util.tree_leaves(straight.variables), jax.tree_util.tree_leaves(resumed.variables)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert resumed.status["step"] == 400


def test_terminated_cli_run_records_its_interruption_and_releases_its_folder(tmp_path):
    """SIGTERM (``kill``, a scheduler's time limit) is handled as Ctrl-C: the run's own status.json says
    interrupted at its last checkpoint and why, the lock file is gone, one line on stderr, exit 143. Killed
    by the default action instead, status.json would still say running and the lock file would stay."""
    import json

    cfg_file = tmp_path / "cfg.toml"
    cfg_file.write_text("size = 8\nalpha = 1.0\nsteps = 100000\ntol = 0.0\ncheckpoint_every = 20\n")
    out = tmp_path / "terminated"
    proc = subprocess.Popen([str(Path(sys.executable).with_name("physlens")), "train", "--config", str(cfg_file),
                             "--out", str(out), "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 240
    try:
        while not ((out / "checkpoint.msgpack").exists() and json.loads((out / "status.json").read_text())["step"] >= 40):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the training process ended (or never checkpointed) before it could be terminated")
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143
    assert stderr.strip().splitlines() == ["physlens: terminated (SIGTERM); what finished is kept: the same command "
                                           "continues a study or a pruning study, --resume FOLDER a training run or an "
                                           "evolution"]
    status = json.loads((out / "status.json").read_text())
    assert status["state"] == "interrupted" and status["step"] >= 40
    assert status["message"] == f"terminated (SIGTERM); --resume continues from step {status['step']}"
    assert not (out / ".physlens.lock").exists()
