"""The lottery-ticket study end to end on a 6-site TFIM chain: levels, energies, resume, summary, report."""

import dataclasses
import json
import os

import jax
import numpy as np
import pandas as pd
import pytest

import physlens.studies.lottery as study_module
from physlens.errors import PhyslensError
from physlens.lens.mask import Mask
from physlens.quantum.systems import TFIMChain
from physlens.report.lottery import write_report
from physlens.studies.lottery import run_study
from physlens.studies.lottery_config import StudyConfig
from physlens.studies.lottery_summary import summarize

CONFIG = StudyConfig.preset("tiny", steps=25, rounds=3)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("lottery") / "tiny"
    return out, run_study(CONFIG, out)


def test_tiny_imp_run_end_to_end(finished):
    out, result = finished
    frame = pd.read_csv(out / "levels.csv")
    assert len(frame) == 2 + 3 * 2 * 4
    system = TFIMChain(6, h=1.0)
    e0 = np.linalg.eigvalsh(system.sparse_hamiltonian().toarray())[0]
    basis = system.hilbert.all_states()
    model = CONFIG.build_model()
    for _, row in frame.iterrows():
        params = result.params[(row.level, row.arm, row.seed)]
        energy = system.energy_of(model.apply({"params": params}, basis))
        assert row.energy == pytest.approx(energy, abs=1e-9)
        assert row.energy >= e0 - 1e-9
        assert row.rel_error == pytest.approx(abs(energy - e0) / abs(e0), abs=1e-9)
        kept = result.masks[(row.level, row.arm, row.seed)].leaves()["layers.0/kernel"]
        assert np.all(np.asarray(params["layers.0"]["kernel"])[~kept] == 0)
    kept = [36]
    for _ in range(3):
        kept.append(kept[-1] - int(0.3 * kept[-1]))
    imp = frame[frame.arm == "imp"].groupby("level").density.first()
    np.testing.assert_allclose(imp.to_numpy(), np.array(kept) / 36)


def test_resume_after_interruption_gives_the_same_masks(finished, tmp_path, monkeypatch):
    out, result = finished
    real = study_module.train_masked
    calls = []

    def interrupted(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(study_module, "train_masked", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_study(CONFIG, tmp_path / "cut")
    monkeypatch.setattr(study_module, "train_masked", real)
    resumed = run_study(CONFIG, tmp_path / "cut")
    for key, mask in result.masks.items():
        assert resumed.masks[key] == mask
        for a, b in zip(jax.tree_util.tree_leaves(resumed.params[key]), jax.tree_util.tree_leaves(result.params[key])):
            np.testing.assert_allclose(a, b, atol=1e-12)
    saved = Mask.load(tmp_path / "cut" / "levels" / "level_03" / "imp_seed1.mask.npz")
    assert saved == result.masks[(3, "imp", 1)]
    sittings = json.loads((tmp_path / "cut" / "study.json").read_text())["sittings"]
    assert len(sittings) == 2 and sittings[0]["started"] <= sittings[1]["started"]
    assert all(s["versions"]["jax"] == jax.__version__ and s["device"].startswith(jax.devices()[0].platform)
               and s["xla_flags"] == os.environ.get("XLA_FLAGS", "") for s in sittings)


def test_controls_added_to_an_imp_only_study_equal_a_joint_run(finished, tmp_path):
    out, joint = finished
    imp_only = dataclasses.replace(CONFIG, controls=())
    run_study(imp_only, tmp_path / "grown")
    study_file = tmp_path / "grown" / "study.json"
    study_file.write_text(json.dumps({**json.loads(study_file.read_text()), "merged_from": ["a", "b"]}))
    study_module.check_resumable(CONFIG, tmp_path / "grown")
    with pytest.raises(PhyslensError, match=r"other settings \(steps\)"):
        study_module.check_resumable(dataclasses.replace(CONFIG, steps=30), tmp_path / "grown")
    grown = run_study(CONFIG, tmp_path / "grown")
    assert set(grown.masks) == set(joint.masks)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "grown" / "levels.csv"), pd.read_csv(out / "levels.csv"),
                                  rtol=1e-10, atol=0)
    recorded = json.loads((tmp_path / "grown" / "study.json").read_text())
    assert recorded["controls"] == list(CONFIG.controls) and len(recorded["sittings"]) == 2
    assert recorded["merged_from"] == ["a", "b"], "what the folder records of its history is kept"
    run_study(imp_only, tmp_path / "grown")
    assert len(pd.read_csv(tmp_path / "grown" / "levels.csv")) == len(pd.read_csv(out / "levels.csv")), "none dropped"


def test_summary_and_report(finished):
    out, _ = finished
    summary = summarize(out)
    imp = summary.curve[summary.curve.arm == "imp"].sort_values("level")
    frame = pd.read_csv(out / "levels.csv")
    np.testing.assert_allclose(imp["median"], frame[frame.arm == "imp"].groupby("level").rel_error.median().to_numpy())
    assert summary.dense_error == pytest.approx(frame[frame.level == 0].rel_error.median())
    questions = summary.claims.question
    assert len(questions) == 7 and questions.str.contains("jumps").sum() == 1
    assert questions.str.contains("first bond loses").sum() == 2, "IMP's tickets and iterative random pruning's"
    assert questions.str.startswith("Iterative random pruning").sum() == 1, "the tiny preset runs random_prune"
    random = frame[(frame.arm == "random_prune") | (frame.level == 0)]
    assert summary.terms_random[["level", "seed"]].values.tolist() == random.sort_values(["seed", "level"])[
        ["level", "seed"]].values.tolist()
    assert len(summary.terms) == (frame.arm == "imp").sum() and set(summary.terms.terms) == {6}
    assert summary.extent.interaction_range == pytest.approx(1.0)
    assert summary.extent.n_kept_M.sum() == summary.keep_NM.sum()
    html = write_report(summary, out / "report.html").read_text()
    assert "Claims, as measured" in html and "exact full sum" in html and "Which bonds of the Hamiltonian" in html
    assert (out / "terms.csv").is_file() is False, "tables are written by write_tables, not by the report"


def test_late_rewinding_to_a_longer_dense_run(tmp_path, monkeypatch):
    config = dataclasses.replace(CONFIG, dense_steps=40, steps=10, rewind_step=40, rounds=1, controls=())
    real, steps = study_module.train_masked, []

    def counting(*args, **kwargs):
        steps.append((kwargs["steps"], kwargs["snapshot_step"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(study_module, "train_masked", counting)
    result = run_study(config, tmp_path / "late")
    assert steps == [(40, 40), (10, None)]
    level0 = tmp_path / "late" / "levels" / "level_00"
    for seed in config.seeds:
        with np.load(level0 / f"rewind_seed{seed}.params.npz") as rewound, np.load(level0 / f"imp_seed{seed}.params.npz") as trained:
            for key in trained.files:
                np.testing.assert_array_equal(rewound[key], trained[key])
    assert (1, "imp", 0) in result.masks
    with pytest.raises(PhyslensError, match="exceeds the dense level's 40 steps"):
        dataclasses.replace(config, rewind_step=41)


def test_pruning_a_network_trained_by_netket(tmp_path, monkeypatch):
    """A NetKet RBM trained by plain NetKet and saved as NetKet users do: level 0 continues from its weights,
    the tickets rewind to them, only its kernel is pruned, and the re-initialised control starts afresh."""
    import flax.serialization
    import netket as nk
    import optax

    system = TFIMChain(6, h=1.0)
    vs = nk.vqs.FullSumState(system.hilbert, nk.models.RBM(alpha=1, param_dtype=float), seed=3)
    nk.driver.VMC(system.hamiltonian, optax.sgd(0.05), variational_state=vs,
                  preconditioner=nk.optimizer.SR(diag_shift=0.01)).run(20, show_progress=False)
    path = tmp_path / "rbm.mpack"
    path.write_bytes(flax.serialization.to_bytes(vs.variables))
    trained = jax.tree.map(np.asarray, vs.variables["params"])
    config = dataclasses.replace(CONFIG, model="netket.RBM:alpha=1", start=str(path), steps=5, dense_steps=3,
                                 rounds=1, controls=("reinit",), seeds=(0, 1))
    real, starts = study_module.train_masked, []

    def recording(model, problem, params_K, masks_K, **kwargs):
        starts.append((jax.tree.map(np.asarray, params_K), jax.tree.map(np.asarray, masks_K)))
        return real(model, problem, params_K, masks_K, **kwargs)

    monkeypatch.setattr(study_module, "train_masked", recording)
    result = run_study(config, tmp_path / "netket")
    (dense, _), (level1, masks1) = starts
    for k in range(2):
        assert all(np.array_equal(a[k], b) for a, b in zip(jax.tree.leaves(dense), jax.tree.leaves(trained)))
    imp_mask = result.masks[(1, "imp", 0)].leaves()
    assert imp_mask["Dense/kernel"].sum() == 36 - int(0.3 * 36)
    assert imp_mask["Dense/bias"].all() and imp_mask["visible_bias"].all(), "only kernels are pruned"
    rewound = result.masks[(1, "imp", 0)].apply(trained)
    imp_start = jax.tree.map(lambda leaf: leaf[0], level1)
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(imp_start), jax.tree.leaves(rewound)))
    reinit_start = jax.tree.map(lambda leaf: leaf[1], level1)["Dense"]["kernel"]
    assert not np.allclose(reinit_start, trained["Dense"]["kernel"] * masks1["Dense"]["kernel"][1])
    assert "netket.RBM:alpha=1" in (tmp_path / "netket" / "study.json").read_text()


def test_sr_study_stopped_mid_level_keeps_its_finished_networks_and_resumes_to_the_same_numbers(tmp_path, monkeypatch):
    config = dataclasses.replace(CONFIG, rounds=1, steps=5, optimizer="sr", mode="sampled", learning_rate=0.01,
                                 samples=64, chains=4, controls=("reinit",), control_levels=(1,), control_steps=5)
    whole = run_study(config, tmp_path / "whole")
    real, calls = study_module.train_masked_vmc, []

    def counted(fail_on):
        def train(model, system, problem, params, masks, **kwargs):
            if len(calls) == fail_on:
                raise KeyboardInterrupt
            calls.append(len(params))
            return real(model, system, problem, params, masks, **kwargs)
        return train

    monkeypatch.setattr(study_module, "train_masked_vmc", counted(fail_on=4))
    with pytest.raises(KeyboardInterrupt):
        run_study(config, tmp_path / "cut")
    assert calls == [1, 1, 2, 1], "each dense network alone, IMP of both seeds together, one reinit control alone"
    kept = pd.read_csv(tmp_path / "cut" / "levels.csv")
    expected = pd.read_csv(tmp_path / "whole" / "levels.csv").query("not (level == 1 and arm == 'reinit' and seed == 1)")
    pd.testing.assert_frame_equal(kept, expected.reset_index(drop=True), rtol=0, atol=0)
    calls.clear()
    monkeypatch.setattr(study_module, "train_masked_vmc", counted(fail_on=None))
    resumed = run_study(config, tmp_path / "cut")
    assert calls == [1], "only the control the stop cut off"
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "cut" / "levels.csv"), pd.read_csv(tmp_path / "whole" / "levels.csv"),
                                  rtol=0, atol=0)
    for key, mask in whole.masks.items():
        assert resumed.masks[key] == mask
