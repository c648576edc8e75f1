"""Nuclear training: targets, split, a tiny run, bitwise resumption, evaluation, config errors."""

import dataclasses

import jax
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.nuclear import evaluate as evaluation
from physlens.nuclear import targets
from physlens.nuclear import train as training
from physlens.nuclear.data import load_ame2020
from physlens.nuclear.model import NuclearModel
from physlens.nuclear.terms import semf_terms
from physlens.runs import Run

TINY = training.NuclearTrainConfig(tasks=("B", "S_n", "Q_alpha"), binding_target="per_nucleon", zmin=20, nmin=20,
                                   width=6, depth=1, mlp_ratio=2,
                                   steps=30, batch_size=512, learning_rate=3e-2, warmup_steps=2, log_every=5,
                                   checkpoint_every=10)


@pytest.fixture(scope="module")
def data():
    return targets.load_data(training.NuclearTrainConfig(binding_target="per_nucleon", train_fraction=0.7, split_seed=3))


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    return training.train(TINY, tmp_path_factory.mktemp("nuclear") / "straight", progress=False)


def test_targets_are_the_ame_values_in_mev(data):
    table = load_ame2020(experimental_only=True, zmin=8, nmin=8)
    pb = int(np.flatnonzero((table.Z == 82) & (table.N == 126))[0])
    for k, task in enumerate(data.tasks):
        rows = (data.nucleus_R == pb) & (data.x_R3[:, 2] == k)
        assert rows.sum() == 1
        expected = table.B_per_A[pb] / 1000.0 if task == "B" else table[task][pb] / 1000.0
        assert data.y_R[rows][0] == pytest.approx(expected, rel=1e-15)
        assert data.unit_R[rows][0] == (208 if task == "B" else 1)
    assert data.y_R[(data.nucleus_R == pb) & (data.x_R3[:, 2] == 0)][0] == pytest.approx(7.867453, abs=1e-6)


def test_total_binding_target_trains_and_predicts_b_in_mev(tmp_path):
    config = dataclasses.replace(TINY, binding_target="total")
    data = targets.load_data(config)
    table = load_ame2020(experimental_only=True, zmin=20, nmin=20)
    pb = int(np.flatnonzero((table.Z == 82) & (table.N == 126))[0])
    rows = (data.nucleus_R == pb) & (data.x_R3[:, 2] == 0)
    assert data.y_R[rows][0] == pytest.approx(table.B[pb] / 1000.0, rel=1e-15) and data.unit_R[rows][0] == 1
    assert data.y_R[rows][0] == pytest.approx(208 * 7.867453, abs=208e-6)
    run = training.train(config, tmp_path / "total", progress=False)
    assert not run.model.binding_per_nucleon
    raw = run.model.apply(run.variables, np.array([[82, 126, 0]]))
    assert evaluation.predict(run, [82], [126], "B")[0] == pytest.approx(float(raw[0]), rel=1e-14)
    assert evaluation.evaluate(run).rms_model == pytest.approx(run.metrics()["val_rms_B"].iloc[-1], rel=1e-10)


def test_nan_and_estimated_targets_are_dropped_per_task(data):
    table = load_ame2020(experimental_only=True, zmin=8, nmin=8)
    for k, task in enumerate(data.tasks):
        column = f"{task}_estimated"
        estimated = table[column].to_numpy(bool) if column in table else np.zeros(len(table), bool)
        keep = table[task].notna().to_numpy() & ~estimated
        assert (data.x_R3[:, 2] == k).sum() == keep.sum()
        np.testing.assert_array_equal(np.sort(data.nucleus_R[data.x_R3[:, 2] == k]), np.flatnonzero(keep))
    assert np.isfinite(data.y_R).all()
    assert (data.x_R3[:, 2] == data.tasks.index("S_n")).sum() < len(table)


def test_split_is_over_nuclei_with_the_requested_fraction(data):
    nuclei = data.nuclei
    assert nuclei.train.sum() == round(0.7 * len(nuclei))
    np.testing.assert_array_equal(data.train_R, nuclei.train.to_numpy()[data.nucleus_R])
    np.testing.assert_array_equal(data.x_R3[:, :2], nuclei[["Z", "N"]].to_numpy()[data.nucleus_R])
    flags = {}
    for (z, n), flag in zip(map(tuple, data.x_R3[:, :2]), data.train_R):
        flags.setdefault((z, n), set()).add(bool(flag))
    assert all(len(f) == 1 for f in flags.values())
    train = nuclei.train.to_numpy()
    assert set(nuclei.Z[~train]) <= set(nuclei.Z[train]) and set(nuclei.N[~train]) <= set(nuclei.N[train])
    again = targets.split_nuclei(nuclei.Z, nuclei.N, 0.7, 3)
    np.testing.assert_array_equal(again, train)
    other = targets.split_nuclei(nuclei.Z, nuclei.N, 0.7, 4)
    assert other.sum() == again.sum() and not np.array_equal(other, again)


def test_split_needs_room_for_every_z_and_n():
    Z, N = np.arange(10, 30), np.arange(10, 30)
    with pytest.raises(PhyslensError, match="at least 20 are needed"):
        targets.split_nuclei(Z, N, 0.5, 0)


def test_standardisation_uses_training_rows_only(data):
    for k in range(len(data.tasks)):
        y = data.y_R[(data.x_R3[:, 2] == k) & data.train_R]
        assert data.shift_K[k] == pytest.approx(y.mean(), rel=1e-12)
        assert data.scale_K[k] == pytest.approx(y.std(), rel=1e-12)
    model = training.build_model(training.NuclearTrainConfig(), data)
    assert model.n_z == data.nuclei.Z.max() + 1 and model.n_n == data.nuclei.N.max() + 1
    np.testing.assert_array_equal(model.target_shift, data.shift_K)


def test_tiny_run_reduces_the_loss_and_loads(straight):
    metrics = straight.metrics()
    assert metrics["step"].tolist() == [5, 10, 15, 20, 25, 30]
    assert metrics["loss"].iloc[-1] < 0.5 * metrics["loss"].iloc[0]
    assert metrics["train_rms_B"].iloc[-1] < metrics["train_rms_B"].iloc[0]
    assert {"val_rms_B", "val_rms_S_n", "val_rms_Q_alpha"} <= set(metrics.columns)
    assert straight.status["state"] == "finished" and straight.status["step"] == 30
    loaded = training.load(straight.path)
    assert isinstance(loaded.model, NuclearModel) and loaded.model.tasks == TINY.tasks
    assert isinstance(loaded.system, targets.NuclearData)
    assert training.NuclearTrainConfig.from_dict({k: v for k, v in loaded.config.items() if k != "kind"}) == TINY


def test_logged_rms_matches_predict(straight):
    data = straight.system
    val = ~data.nuclei.train.to_numpy() & data.nuclei.S_n.notna().to_numpy()
    nuclei = data.nuclei[val]
    pred = evaluation.predict(straight, nuclei.Z, nuclei.N, "S_n")
    rms = np.sqrt(np.mean((pred - nuclei.S_n.to_numpy()) ** 2))
    assert straight.metrics()["val_rms_S_n"].iloc[-1] == pytest.approx(rms, rel=1e-10)
    b_pred = evaluation.predict(straight.model, [82], [126], "B", variables=straight.variables)
    per_a = straight.model.apply(straight.variables, np.array([[82, 126, 0]]))
    assert b_pred[0] == pytest.approx(208 * float(per_a[0]), rel=1e-14)


def test_evaluate_compares_with_semf_fitted_on_training_nuclei(straight):
    ev = evaluation.evaluate(straight)
    nuclei = straight.system.nuclei
    train = nuclei.train.to_numpy()
    terms = semf_terms(nuclei.Z, nuclei.N)
    X = np.stack([terms["volume"], -terms["surface"], -terms["coulomb"], -terms["asymmetry"], terms["pairing"]], 1)
    coef, *_ = np.linalg.lstsq(X[train], nuclei.B.to_numpy()[train], rcond=None)
    semf_val = X[~train] @ coef
    np.testing.assert_allclose(ev.semf, semf_val, rtol=1e-10)
    assert ev.rms_semf == pytest.approx(np.sqrt(np.mean((semf_val - nuclei.B.to_numpy()[~train]) ** 2)), rel=1e-10)
    assert len(ev.to_frame()) == (~train).sum()
    assert ev.rms_model == pytest.approx(straight.metrics()["val_rms_B"].iloc[-1], rel=1e-10)
    assert straight.reference["semf"]["val_rms"] == pytest.approx(ev.rms_semf, rel=1e-12)


def test_interrupt_then_resume_is_bitwise_the_uninterrupted_run(tmp_path, straight):
    original = training._Trainer.after_chunk

    def interrupting(self):
        original(self)
        if self.step == 25:
            raise KeyboardInterrupt

    mp = pytest.MonkeyPatch()
    mp.setattr(training._Trainer, "after_chunk", interrupting)
    with pytest.raises(KeyboardInterrupt):
        training.train(TINY, tmp_path / "killed", progress=False)
    mp.undo()
    status = Run.open(tmp_path / "killed").status
    assert status["state"] == "interrupted" and status["step"] == 20
    partial = training.load(tmp_path / "killed")
    assert not (tmp_path / "killed" / "params.msgpack").exists() and partial.variables is not None
    resumed = training.resume(tmp_path / "killed", progress=False)
    for a, b in zip(jax.tree_util.tree_leaves(straight.variables), jax.tree_util.tree_leaves(resumed.variables)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert resumed.metrics().equals(straight.metrics())
    assert resumed.status["step"] == 30 and resumed.status["state"] == "finished"


def test_resume_of_finished_run_changes_nothing(straight):
    before = (straight.path / "params.msgpack").read_bytes()
    again = training.resume(straight.path, progress=False)
    assert (straight.path / "params.msgpack").read_bytes() == before
    assert again.status == straight.status


@pytest.mark.parametrize("values,match", [
    ({"lr": 0.1}, "unknown config key"),
    ({"tasks": ["B", "mass"]}, "need distinct known task names"),
    ({"tasks": ["B", "B"]}, "need distinct known task names"),
    ({"task_weights": {"S_N": 2.0}}, "need distinct known task names"),
    ({"task_weights": {"B": -1.0}}, "task_weights must be >= 0"),
    ({"task_weights": {"B": 0.0}, "tasks": ["B"]}, "one trained task's > 0"),
    ({"train_fraction": 1.01}, "train_fraction must lie in"),
    ({"binding_target": "per_A"}, "unknown binding_target 'per_A'; allowed: per_nucleon, total"),
    ({"steps": 0}, "steps must be > 0"),
    ({"batch_size": -1}, "batch_size must be >= 0"),
    ({"log_every": 7, "checkpoint_every": 10}, "multiple of log_every"),
])
def test_bad_config_is_a_one_line_error(values, match):
    with pytest.raises(PhyslensError, match=match) as info:
        training.NuclearTrainConfig.from_dict(values)
    assert "\n" not in str(info.value)


def test_bad_prediction_requests_are_one_line_errors(straight):
    with pytest.raises(PhyslensError, match="unknown task 'S_p'"):
        evaluation.predict(straight, [50], [70], "S_p")
    with pytest.raises(PhyslensError, match="must lie in"):
        evaluation.predict(straight, [500], [70], "B")
    with pytest.raises(PhyslensError, match="needs its variables"):
        evaluation.predict(straight.model, [50], [70], "B")


def test_empty_selection_leaves_nothing_on_disk(tmp_path):
    cfg = dataclasses.replace(TINY, zmin=200)
    with pytest.raises(PhyslensError, match="at least 10 are needed"):
        training.train(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
