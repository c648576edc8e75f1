"""Structure over training: the step-0 row is the initial model's, rows land every K steps and survive a resume."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from physlens.nuclear import structure, train as training
from physlens.nuclear.targets import load_data
from physlens.nuclear.training_config import NuclearTrainConfig

TINY = NuclearTrainConfig(tasks=("B", "S_n"), zmin=20, nmin=20, width=6, depth=1, mlp_ratio=2, steps=40,
                          batch_size=256, learning_rate=3e-2, warmup_steps=2, log_every=10, checkpoint_every=20,
                          structure_every=20)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return training.train(TINY, tmp_path_factory.mktemp("structure") / "run", progress=False)


def test_step_zero_is_the_initial_model_measured_directly(run):
    frame = structure.frame(run)
    assert frame.step.tolist() == [0, 20, 40]
    data = load_data(TINY)
    model = training.build_model(TINY, data)
    initial = model.init(jax.random.PRNGKey(TINY.seed), jnp.asarray(data.x_R3[:1]))
    direct = structure.structure_row(model, initial, data)
    assert frame.iloc[0].drop("step").to_dict() == pytest.approx(direct, rel=1e-9, nan_ok=True)
    Z_T = np.unique(data.nuclei.Z)
    emb = np.asarray(initial["params"]["embed_Z"]["embedding"])[Z_T]
    centred = emb - emb.mean(axis=0)
    pc0 = centred @ np.linalg.eigh(centred.T @ centred)[1][:, -1]
    assert frame.orderedness_Z.iloc[0] == pytest.approx(abs(spearmanr(Z_T, pc0).statistic), rel=1e-9)
    loaded = training.load(run.path)
    assert frame.iloc[-1].drop("step").to_dict() == pytest.approx(
        structure.structure_row(loaded.model, loaded.variables, loaded.system), rel=1e-9, nan_ok=True)


def test_cosines_are_the_best_pc_term_matches(run):
    loaded = training.load(run.path)
    row = structure.structure_row(loaded.model, loaded.variables, loaded.system, n_pcs=3)
    for term in structure.TERMS:
        assert 0 <= row[f"cos_{term}"] <= 1 and row[f"pc_{term}"] in (0, 1, 2)


def test_interrupted_run_resumes_to_the_same_rows(run, tmp_path):
    original = training._Trainer.after_chunk

    def interrupting(self):
        original(self)
        if self.step == 30:
            raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training._Trainer, "after_chunk", interrupting)
        with pytest.raises(KeyboardInterrupt):
            training.train(TINY, tmp_path / "killed", progress=False)
    assert structure.frame(training.load(tmp_path / "killed")).step.tolist() == [0, 20]
    resumed = training.resume(tmp_path / "killed", progress=False)
    pd.testing.assert_frame_equal(structure.frame(resumed), structure.frame(run), check_exact=True)
