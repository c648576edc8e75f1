"""Joining lottery studies of disjoint seeds (``physlens.studies.lottery_merge``) against the study run jointly."""

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from physlens.errors import PhyslensError
from physlens.lens.lottery import level_mask
from physlens.studies.lottery import run_study
from physlens.studies.lottery_config import StudyConfig
from physlens.studies.lottery_merge import merge_studies
from physlens.studies.lottery_summary import summarize

CONFIG = StudyConfig.preset("tiny", steps=20, rounds=2, seeds=(0, 1))


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    root = tmp_path_factory.mktemp("merge")
    for name, seeds in (("joint", (0, 1)), ("s0", (0,)), ("s1", (1,))):
        run_study(dataclasses.replace(CONFIG, seeds=seeds), root / name)
    return root


def test_joined_seeds_equal_the_joint_run(studies):
    out = merge_studies([studies / "s1", studies / "s0"], studies / "joined")
    joint, joined = pd.read_csv(studies / "joint" / "levels.csv"), pd.read_csv(out / "levels.csv")
    pd.testing.assert_frame_equal(joined.drop(columns=["energy", "rel_error"]), joint.drop(columns=["energy", "rel_error"]))
    np.testing.assert_allclose(joined.energy, joint.energy, rtol=1e-12)
    for row in joint.itertuples():
        assert level_mask(out / "levels", row.level, row.arm, row.seed) == level_mask(studies / "joint" / "levels",
                                                                                        row.level, row.arm, row.seed)
    study = json.loads((out / "study.json").read_text())
    assert study["seeds"] == [0, 1] and [m["seeds"] for m in study["merged_from"]] == [[1], [0]]
    assert len(study["sittings"]) == 2
    assert summarize(out).curve.seeds.max() == 2
    resumed = run_study(CONFIG, out)                 # a study folder like any other: it resumes, training nothing
    assert len(resumed.rows) == len(joint)


@pytest.mark.parametrize("case, message", [
    ("settings", "other settings"), ("seeds", "share seeds"), ("levels", "finished the same levels"),
    ("one", "at least two"), ("taken", "already holds")])
def test_refusals_touch_nothing(studies, tmp_path, case, message):
    sources = [studies / "s0", studies / "s1"]
    out = tmp_path / "joined"
    if case == "settings":
        run_study(dataclasses.replace(CONFIG, seeds=(2,), steps=21), tmp_path / "other")
        sources = [studies / "s0", tmp_path / "other"]
    elif case == "seeds":
        sources = [studies / "s0", studies / "joint"]
    elif case == "levels":
        run_study(dataclasses.replace(CONFIG, seeds=(2,)), tmp_path / "short")
        shutil.rmtree(tmp_path / "short" / "levels" / "level_02")          # as if interrupted before the last level
        sources = [studies / "s0", tmp_path / "short"]
    elif case == "one":
        sources = sources[:1]
    else:
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(PhyslensError, match=message):
        merge_studies(sources, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    if case == "taken":
        assert (out / "notes.txt").read_text() == "mine" and len(list(out.iterdir())) == 1


def test_a_folder_that_predates_a_setting_joins_with_its_default(studies, tmp_path):
    older = tmp_path / "older"
    shutil.copytree(studies / "s1", older)
    study = json.loads((older / "study.json").read_text())
    del study["evaluation"], study["eval_samples"]                   # as written before these settings existed
    (older / "study.json").write_text(json.dumps(study))
    out = merge_studies([studies / "s0", older], tmp_path / "joined")
    assert json.loads((out / "study.json").read_text())["evaluation"] == "exact"


@pytest.mark.parametrize("relative_change, joins", [(1e-15, True), (1e-9, False)])
def test_reference_energies_recomputed_elsewhere_join_when_equal_to_the_last_bits(studies, tmp_path, relative_change,
                                                                                  joins):
    """The exact E0 of each folder's first sitting may differ in its last bits between machines (1 ulp between the
    two 4×4 α = 8 seeds); a real difference is still another study."""
    other = tmp_path / "other"
    shutil.copytree(studies / "s1", other)
    study = json.loads((other / "study.json").read_text())
    study["e0"] *= 1 + relative_change
    (other / "study.json").write_text(json.dumps(study))
    if joins:
        out = merge_studies([studies / "s0", other], tmp_path / "joined")
        assert json.loads((out / "study.json").read_text())["e0"] == json.loads((studies / "s0" / "study.json")
                                                                                 .read_text())["e0"]
    else:
        with pytest.raises(PhyslensError, match=r"other settings .*\(e0\)"):
            merge_studies([studies / "s0", other], tmp_path / "joined")
