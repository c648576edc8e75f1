"""The fault suite of the ``physlens`` command: bad input, faults of the environment and failed runs.

Every case asserts the documented exit code (2 bad input, 3 environment, 4 the run failed), that the
error is one line on stderr, and that every file that existed before is byte-identical afterwards.
"""

import errno
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from physlens.cli import app
from physlens.folders import FolderLock
from physlens.quantum import train as training

runner = CliRunner()


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path → bytes)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_fault(result, code: int, match: str) -> str:
    """Exit ``code``, one ``physlens: error:`` line on stderr containing ``match``, no traceback."""
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("physlens: error:")]
    assert len(errors) == 1, result.stderr
    assert match in errors[0], errors[0]
    assert "Traceback" not in result.output + result.stderr
    return errors[0]


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory) -> Path:
    """A finished 6-site RBM run."""
    path = tmp_path_factory.mktemp("faults") / "ring6"
    training.train(training.TrainConfig(size=6, alpha=1.0, steps=20, tol=0.0), path, progress=False)
    return path


@pytest.fixture
def run_copy(ring_run, tmp_path) -> Path:
    copy = tmp_path / "ring6"
    shutil.copytree(ring_run, copy)
    return copy


@pytest.fixture(scope="module")
def lottery_study(tmp_path_factory) -> Path:
    """A finished one-round lottery study of the tiny preset."""
    out = tmp_path_factory.mktemp("faults") / "lottery"
    result = runner.invoke(app, ["prune", "tiny", "--rounds", "1", "--steps", "5", "--seeds", "0", "--controls", "none",
                                 "--no-progress", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def nan_nuclear_run(tmp_path_factory):
    """A nuclear training driven to NaN by a huge learning rate: the result and the run folder."""
    out = tmp_path_factory.mktemp("faults") / "nuclear-nan"
    result = runner.invoke(app, ["nuclear", "train", "--tasks", "B", "--width", "4", "--depth", "1", "--steps", "250",
                                 "--learning-rate", "1e30", "--no-progress", "--out", str(out)])
    return result, out


@pytest.mark.parametrize("toml,match", [
    ('size = "eight"\n', "config key size must be an integer; got 'eight'"),
    ('alpha = "two"\n', "config key alpha must be a number; got 'two'"),
    ('widths = [16, "x"]\n', "config key widths must be a list of integers"),
    ('system_params = 3\n', "config key system_params must be a table"),
])
def test_typed_config_values_are_one_line_errors(tmp_path, toml, match):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(toml)
    before = snapshot(tmp_path)
    assert_fault(runner.invoke(app, ["train", "--config", str(cfg), "--out", str(tmp_path / "run")]), 2, match)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("args,match", [
    (["--system", "tfim-chain", "-p", "h=abc"], "tfim-chain parameter h must be a number; got 'abc'"),
    (["--system", "tfim-chain", "-p", "pbc=3"], "tfim-chain parameter pbc must be true or false"),
    (["--size", "10000"], "about 10^3008 basis states"),
    (["--size", "40"], "allowed: --sampled"),
    (["--samples", "100", "--chains", "16", "--sampled"], "multiple of chains"),
    (["--protocol", "rbm-paper", "--learning-rate", "0.1"], "--protocol rbm-paper fixes --learning-rate"),
    (["--protocol", "adam"], "unknown protocol 'adam'; allowed: physlens-sr, rbm-paper"),
    (["-p", "fixed_sz=maybe"], "heisenberg-ring parameter fixed_sz must be true or false"),
])
def test_bad_train_input_is_one_line_and_writes_nothing(tmp_path, args, match):
    assert_fault(runner.invoke(app, ["train", *args, "--out", str(tmp_path / "run")]), 2, match)
    assert list(tmp_path.iterdir()) == []


def test_sampled_training_without_a_reference_reports_eps_unavailable(tmp_path):
    out = tmp_path / "tfim30"
    result = runner.invoke(app, ["train", "--system", "tfim-chain", "--size", "30", "--sampled", "--alpha", "1",
                                 "--samples", "64", "--chains", "8", "--steps", "2", "--no-progress", "--out", str(out)])
    assert result.exit_code == 0, result.output + result.stderr
    assert "unavailable" in result.stdout
    status = json.loads((out / "status.json").read_text())
    assert status["eps"] is None and status["e0"] is None and status["energy"] < 0
    assert json.loads((out / "reference.json").read_text())["energy"] is None
    assert all(json.loads(line)["eps"] is None for line in (out / "metrics.jsonl").read_text().splitlines())


def test_sampled_training_against_a_given_e0(tmp_path):
    out = tmp_path / "tfim30"
    e0 = -38.2
    result = runner.invoke(app, ["train", "--system", "tfim-chain", "--size", "30", "--sampled", "--alpha", "1", "--e0",
                                 str(e0), "--samples", "64", "--chains", "8", "--steps", "2", "--tol", "0",
                                 "--no-progress", "--out", str(out)])
    assert result.exit_code == 0, result.output + result.stderr
    status = json.loads((out / "status.json").read_text())
    assert status["e0"] == e0 and status["eps"] == pytest.approx(abs(status["energy"] - e0) / abs(e0), rel=1e-12)
    assert json.loads((out / "reference.json").read_text())["method"] == "given with --e0"


def test_train_refuses_an_existing_run_and_force_moves_it_aside(run_copy, tmp_path):
    before = snapshot(run_copy)
    args = ["train", "--size", "6", "--alpha", "1", "--steps", "5", "--no-progress", "--out", str(run_copy)]
    assert_fault(runner.invoke(app, args), 2, "already holds an nqs run")
    assert snapshot(run_copy) == before
    result = runner.invoke(app, [*args, "--force"])
    assert result.exit_code == 0, result.output + result.stderr
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("ring6.old-")]
    assert len(moved) == 1 and snapshot(moved[0]) == before
    assert json.loads((run_copy / "status.json").read_text())["step"] == 5


def test_force_does_not_move_anything_for_bad_input(run_copy, tmp_path):
    before = snapshot(tmp_path)
    result = runner.invoke(app, ["train", "--size", "7", "--force", "--out", str(run_copy)])
    assert_fault(result, 2, "even number of sites")
    assert snapshot(tmp_path) == before


def test_demo_does_not_delete_an_existing_run(run_copy):
    before = snapshot(run_copy)
    assert_fault(runner.invoke(app, ["demo", "--out", str(run_copy)]), 2, "holds an nqs run of another configuration")
    assert snapshot(run_copy) == before


@pytest.mark.parametrize("command", [
    ["study", "hidden-units", "--sizes", "6", "--alphas", "1", "--seeds", "1", "--no-progress"],
    ["nuclear", "study", "--fractions", "0.8", "--seeds", "1", "--no-single", "--no-progress"],
    ["prune", "tiny", "--rounds", "1", "--steps", "5", "--no-progress"],
    ["study", "hidden-units-cases", "--steps", "1", "--alpha-steps", "1", "--no-progress"],
    ["study", "hidden-units-compare", "--study", "physlens-sr=a", "--study", "rbm-paper=b"],
])
def test_studies_refuse_a_training_run(run_copy, command):
    before = snapshot(run_copy)
    assert_fault(runner.invoke(app, [*command, "--out", str(run_copy)]), 2, "holds an nqs run, not a")
    assert snapshot(run_copy) == before


def test_sae_refuses_an_out_that_holds_a_run(ring_run, run_copy):
    before = snapshot(run_copy)
    result = runner.invoke(app, ["sae", str(ring_run), "--hook", "hidden.pre", "--no-progress", "--out", str(run_copy)])
    assert_fault(result, 2, "holds an nqs run, not an sae output")
    assert snapshot(run_copy) == before


def test_prune_refuses_another_lottery_study_before_writing(lottery_study):
    before = snapshot(lottery_study)
    result = runner.invoke(app, ["prune", "tiny", "--no-progress", "--out", str(lottery_study)])
    assert_fault(result, 2, "holds a lottery study with other settings (rounds, seeds, steps)")
    assert snapshot(lottery_study) == before


def test_a_second_writer_gets_a_one_line_lock_error(run_copy, tmp_path):
    (run_copy / "status.json").write_text(json.dumps({"state": "interrupted", "step": 0}))
    before = snapshot(run_copy)
    with FolderLock(run_copy):
        locked = snapshot(run_copy)
        assert_fault(runner.invoke(app, ["train", "--resume", str(run_copy), "--no-progress"]), 3, "is in use by process")
        assert snapshot(run_copy) == locked
        study = tmp_path / "study"
        with FolderLock(study):
            result = runner.invoke(app, ["study", "hidden-units", "--sizes", "6", "--alphas", "1", "--seeds", "1",
                                         "--no-progress", "--out", str(study)])
            assert_fault(result, 3, "is in use by process")
    assert snapshot(run_copy) == before


@pytest.mark.parametrize("code,words", [(errno.ENOSPC, "No space left on device"), (errno.EROFS, "Read-only file system"),
                                        (errno.EACCES, "Permission denied")])
def test_os_errors_are_one_line_with_exit_3(tmp_path, monkeypatch, code, words):
    import physlens.runs

    def refuse(*args, **kwargs):
        raise OSError(code, words, str(tmp_path / "run"))

    monkeypatch.setattr(physlens.runs.tempfile, "mkdtemp", refuse)
    result = runner.invoke(app, ["train", "--size", "6", "--alpha", "1", "--steps", "2", "--no-progress",
                                 "--out", str(tmp_path / "run")])
    line = assert_fault(result, 3, words)
    assert "allowed:" in line
    assert list(tmp_path.iterdir()) == []


def test_a_collapsed_run_fails_with_exit_4_and_analyses_refuse_it(tmp_path):
    out = tmp_path / "collapsed"
    result = runner.invoke(app, ["train", "--size", "6", "--alpha", "1", "--learning-rate", "5", "--steps", "60",
                                 "--tol", "0", "--no-progress", "--out", str(out)])
    assert_fault(result, 4, "failed after 60 steps: collapsed")
    status = json.loads((out / "status.json").read_text())
    assert status["state"] == "failed" and status["collapsed"] is True and status["eps"] > 0.1
    info = runner.invoke(app, ["info", str(out)])
    assert info.exit_code == 0 and "collapsed" in info.stdout
    before = snapshot(out)
    assert_fault(runner.invoke(app, ["units", str(out)]), 2, "is a failed run, which analyses refuse (collapsed")
    assert_fault(runner.invoke(app, ["prune", str(out), "--no-progress", "--out", str(tmp_path / "p")]), 2,
                 "is a failed run")
    assert snapshot(out) == before and not (tmp_path / "p").exists()


def test_a_truncated_checkpoint_of_a_finished_run_is_caught(run_copy):
    blob = (run_copy / "checkpoint.msgpack").read_bytes()
    (run_copy / "checkpoint.msgpack").write_bytes(blob[: len(blob) // 2])
    before = snapshot(run_copy)
    assert_fault(runner.invoke(app, ["info", str(run_copy)]), 2, "checkpoint.msgpack does not match the sha256")
    assert_fault(runner.invoke(app, ["units", str(run_copy)]), 2, "checkpoint.msgpack does not match the sha256")
    assert snapshot(run_copy) == before


def test_units_on_a_run_with_an_empty_metrics_file(run_copy):
    (run_copy / "metrics.jsonl").write_text("")
    result = runner.invoke(app, ["units", str(run_copy)])
    assert result.exit_code == 0, result.output + result.stderr
    assert (run_copy / "report.html").is_file()


def test_nan_in_nuclear_training_fails_with_exit_4(nan_nuclear_run):
    result, out = nan_nuclear_run
    assert_fault(result, 4, "failed after 250 steps: diverged: the loss is nan")
    status = json.loads((out / "status.json").read_text())
    assert status["state"] == "failed" and set(status["checksums"]) == {"params.msgpack", "checkpoint.msgpack"}


def test_info_on_a_nuclear_run_and_analyse_refuses_a_failed_one(nan_nuclear_run):
    _, out = nan_nuclear_run
    before = snapshot(out)
    info = runner.invoke(app, ["info", str(out)])
    assert info.exit_code == 0, info.output + info.stderr
    assert "nuclear run" in info.stdout and "failed after 250 steps" in info.stdout
    assert_fault(runner.invoke(app, ["nuclear", "analyse", str(out)]), 2, "is a failed run")
    assert snapshot(out) == before


def test_version_and_short_help():
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.stdout.startswith("physlens ")
    for args in (["-h"], ["train", "-h"], ["nuclear", "train", "-h"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "Usage:" in result.stdout


def test_study_outputs_default_under_runs():
    for args in (["study", "hidden-units", "-h"], ["nuclear", "study", "-h"]):
        text = " ".join(runner.invoke(app, args).stdout.split())
        assert "runs/" in text and "docs/" not in text


def test_typed_flags_override_the_config_file(tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("size = 6\nalpha = 1.0\nsteps = 7\ntol = 0.0\n")
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--config", str(cfg), "--steps", "3", "--no-progress", "--out", str(out)])
    assert result.exit_code == 0, result.output + result.stderr
    config = (out / "config.toml").read_text()
    assert "steps = 3\n" in config and "size = 6\n" in config and "alpha = 1.0\n" in config
    assert json.loads((out / "status.json").read_text())["step"] == 3


def test_a_diverged_nqs_run_fails_with_exit_4(tmp_path, monkeypatch):
    import jax

    make_vstate = training.make_vstate

    def poisoned_vstate(system, model, config):
        vstate = make_vstate(system, model, config)
        vstate.parameters = jax.tree_util.tree_map(lambda p: p * float("nan"), vstate.parameters)
        return vstate

    monkeypatch.setattr(training, "make_vstate", poisoned_vstate)
    out = tmp_path / "nan"
    result = runner.invoke(app, ["train", "--size", "6", "--alpha", "1", "--steps", "5", "--no-progress", "--out", str(out)])
    assert_fault(result, 4, "failed after 0 steps: diverged: the energy is nan at step 0")
    status = json.loads((out / "status.json").read_text())
    assert status["state"] == "failed" and status["energy"] is None and status["eps"] is None


def test_a_report_path_outside_the_run_never_overwrites_another_file(ring_run, run_copy, tmp_path):
    other = run_copy / "report.html"
    other.write_text("another run's report")
    before = snapshot(tmp_path)
    assert_fault(runner.invoke(app, ["units", str(ring_run), "--report", str(other)]), 2,
                 "already exists and was not written by this command")
    assert_fault(runner.invoke(app, ["steer", str(ring_run), "--sae", str(tmp_path / "none"), "--feature", "0",
                                     "--out", str(other), "--no-progress"]), 2, "already exists")
    assert snapshot(tmp_path) == before


def test_two_trainings_into_one_out_at_once(tmp_path):
    """Real processes racing for one --out: one trains, the other gets one line (exit 2 or 3), no traceback."""
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("physlens")
    out = tmp_path / "run"
    args = [str(exe), "train", "--size", "6", "--alpha", "1", "--steps", "100", "--tol", "0", "--no-progress",
            "--out", str(out)]
    procs = [subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0 and codes[1] in (2, 3), results
    loser = next(err for code, err in results if code != 0)
    errors = [line for line in loser.splitlines() if line.startswith("physlens: error:")]
    assert len(errors) == 1 and "Traceback" not in loser, loser
    assert json.loads((out / "status.json").read_text())["step"] == 100


def test_comparison_needs_two_studies(tmp_path):
    assert_fault(runner.invoke(app, ["study", "hidden-units-compare", "--study", "rbm-paper=x", "--out",
                                     str(tmp_path / "cmp")]), 2, "--study must be given twice or more")
    assert list(tmp_path.iterdir()) == []
