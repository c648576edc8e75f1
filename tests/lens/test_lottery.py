"""IMP with rewinding and its controls, driven by a fake quadratic trainer (no physics)."""

import json
import math

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.lottery import CONTROLS, LotteryConfig, TrainedBatch, held_controls, run_lottery
from physlens.lens.mask import Mask

RNG = np.random.default_rng(0)
TARGET = {"a": {"kernel": RNG.normal(size=(5, 4)), "bias": RNG.normal(size=4)},
          "b": {"kernel": RNG.normal(size=(4, 3)), "bias": RNG.normal(size=3)}}


def init(seed):
    rng = np.random.default_rng(100 + seed)
    return {k: {n: rng.normal(size=v.shape) for n, v in leaf.items()} for k, leaf in TARGET.items()}


class Recorder:
    """Trains by moving the kept weights halfway to TARGET; records every call; can fail on call n."""

    def __init__(self, fail_on=None):
        self.calls, self.fail_on = [], fail_on

    def __call__(self, params, masks):
        if self.fail_on is not None and len(self.calls) == self.fail_on:
            raise KeyboardInterrupt
        self.calls.append((params, masks))
        trained = [m.apply({k: {n: 0.5 * (p[k][n] + TARGET[k][n]) for n in p[k]} for k in p}) for p, m in zip(params, masks)]
        err = np.array([sum(np.sum((np.asarray(m.apply(TARGET)[k][n]) - TARGET[k][n]) ** 2) for k in TARGET for n in TARGET[k])
                        + 1e-3 for m in masks])
        return TrainedBatch(trained, -1.0 / err, err)


def run(tmp_path, train, rounds=3, fraction=0.2, name="exp"):
    return run_lottery(tmp_path / name, init_params=[init(0), init(1)], reinit_params=[init(10), init(11)], train=train,
                       config=LotteryConfig(rounds=rounds, fraction=fraction))


def test_imp_levels_prune_the_requested_count_from_trained_magnitudes(tmp_path):
    train = Recorder()
    result = run(tmp_path, train)
    kept = 32
    for level in range(1, 4):
        kept -= math.floor(0.2 * kept)
        for seed in (0, 1):
            mask = result.masks[(level, "imp", seed)]
            assert mask.kept == kept
            previous = result.masks[(level - 1, "imp", seed)]
            trained = result.params[(level - 1, "imp", seed)]
            mags = np.concatenate([np.abs(np.asarray(trained[k]["kernel"])).ravel() for k in ("a", "b")])
            alive = np.concatenate([previous.leaves()[f"{k}/kernel"].ravel() for k in ("a", "b")])
            now = np.concatenate([mask.leaves()[f"{k}/kernel"].ravel() for k in ("a", "b")])
            removed = alive & ~now
            assert mags[removed].max() <= mags[now].min()
    assert len(result.to_frame()) == 2 + 3 * 2 * 4


def test_every_arm_starts_from_the_right_weights_and_mask(tmp_path):
    train = Recorder()
    run(tmp_path, train)
    params, masks = train.calls[1]
    arms = ["imp", "reinit", "random_mask", "random_prune"] * 2
    for k, arm in enumerate(arms):
        seed = k // 4
        base = init(10 + seed) if arm == "reinit" else init(seed)
        keep = masks[k].leaves()
        for layer in ("a", "b"):
            start = np.asarray(params[k][layer]["kernel"])
            np.testing.assert_array_equal(start[keep[f"{layer}/kernel"]], base[layer]["kernel"][keep[f"{layer}/kernel"]])
            assert np.all(start[~keep[f"{layer}/kernel"]] == 0)
            np.testing.assert_array_equal(params[k][layer]["bias"], base[layer]["bias"])
    imp, random_mask = masks[0], masks[2]
    assert masks[1] == imp and random_mask != imp
    np.testing.assert_array_equal(imp.to_frame().kept, random_mask.to_frame().kept)


def test_resume_after_interruption_gives_the_same_masks_and_skips_finished_levels(tmp_path):
    whole = run(tmp_path, Recorder(), name="whole")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, Recorder(fail_on=2), name="cut")
    again = Recorder()
    resumed = run(tmp_path, again, name="cut")
    assert len(again.calls) == 2
    assert set(resumed.masks) == set(whole.masks)
    for key, mask in whole.masks.items():
        assert resumed.masks[key] == mask
    assert resumed.to_frame().equals(whole.to_frame())


def test_resume_refuses_another_configuration(tmp_path):
    run(tmp_path, Recorder(), rounds=1)
    with pytest.raises(PhyslensError, match="another configuration"):
        run(tmp_path, Recorder(), rounds=1, fraction=0.5)


def test_bad_lottery_config_raises():
    with pytest.raises(PhyslensError):
        LotteryConfig(fraction=1.0)
    with pytest.raises(PhyslensError):
        LotteryConfig(controls=("bogus",))


def test_masks_of_a_level_are_saved_and_load_back(tmp_path):
    result = run(tmp_path, Recorder(), rounds=1)
    saved = Mask.load(tmp_path / "exp" / "level_01" / "imp_seed1.mask.npz")
    assert saved == result.masks[(1, "imp", 1)]


def test_controls_from_init_at_chosen_levels_with_their_own_trainer(tmp_path):
    train, control = Recorder(), Recorder()
    config = LotteryConfig(rounds=3, fraction=0.12, rounding="nearest", controls=CONTROLS, controls_from="init",
                           control_levels=(2,))
    result = run_lottery(tmp_path / "exp", init_params=[init(0), init(1)], reinit_params=[init(10), init(11)],
                         train=train, train_control=control, config=config)
    frame = result.to_frame()
    assert sorted(frame[frame.arm.isin(["reinit", "random_mask", "init_imp"])].level.unique()) == [2]
    assert sorted(frame[frame.arm == "random_prune"].level.unique()) == [1, 2, 3]
    kept = 32
    for level in (1, 2, 3):
        kept -= round(0.12 * kept)          # 3.84 → 4, 3.36 → 3, 3.0 → 3 (halves to even never arise here)
        assert result.masks[(level, "imp", 0)].kept == kept
    params, masks = control.calls[0]
    assert [m.kept for m in masks] == [result.masks[(2, "imp", 0)].kept] * 3 + [result.masks[(2, "imp", 1)].kept] * 3
    assert masks[2] == result.masks[(2, "imp", 0)] and masks[5] == result.masks[(2, "imp", 1)]
    starts = [init(10), init(0), init(0), init(11), init(1), init(1)]        # reinit, random_mask, init_imp per seed
    for k, base in enumerate(starts):
        keep = masks[k].leaves()["a/kernel"]
        np.testing.assert_array_equal(np.asarray(params[k]["a"]["kernel"])[keep], base["a"]["kernel"][keep])
    assert all(arm in ("imp", "random_prune") for arm in frame[frame.level != 2].arm.unique())


def test_control_levels_outside_the_rounds_are_refused():
    with pytest.raises(PhyslensError, match="control_levels"):
        LotteryConfig(rounds=3, control_levels=(4,))


def _grow_run(tmp_path, name, config, train=None, control=None):
    return run_lottery(tmp_path / name, init_params=[init(0), init(1)], reinit_params=[init(10), init(11)],
                       train=train or Recorder(), train_control=control, config=config)


def test_a_finished_folder_grows_the_controls_asked_for_and_equals_a_joint_run(tmp_path):
    imp_only = LotteryConfig(rounds=3, fraction=0.2, controls=(), control_levels=(1, 3))
    more = LotteryConfig(rounds=3, fraction=0.2, controls=("reinit", "init_imp", "random_prune"), control_levels=(2,))
    _grow_run(tmp_path, "grown", imp_only)
    train, control = Recorder(), Recorder()
    grown = _grow_run(tmp_path, "grown", more, train, control)
    joint = _grow_run(tmp_path, "joint", more, control=Recorder())
    assert [len(p) for p, _ in control.calls] == [4], "only level 2's isolated controls, two per seed"
    assert [len(p) for p, _ in train.calls] == [2, 2, 2], "random_prune at every level, none of IMP retrained"
    assert set(grown.masks) == set(joint.masks) and all(grown.masks[k] == joint.masks[k] for k in joint.masks)
    assert grown.to_frame().equals(joint.to_frame()), "the same rows, in a joint run's order"
    header = json.loads((tmp_path / "grown" / "lottery.json").read_text())["config"]
    assert header["controls"] == ["reinit", "random_prune", "init_imp"] and header["control_levels"] == [2]
    again, again_control = Recorder(), Recorder()
    resumed = _grow_run(tmp_path, "grown", imp_only, again, again_control)
    assert again.calls == [] and again_control.calls == [], "asking for less trains nothing and drops nothing"
    assert resumed.to_frame().equals(joint.to_frame())


def _held(recorded: tuple, recorded_levels: tuple, wanted: tuple, wanted_levels: tuple) -> tuple:
    out = held_controls({"controls": recorded, "control_levels": recorded_levels},
                        {"controls": wanted, "control_levels": wanted_levels})
    return out["controls"], out["control_levels"]


def test_held_controls_unite_controls_and_the_levels_of_sides_with_isolated_controls():
    assert _held((), (1, 3), (), (2, 5)) == ((), (2, 5)), "nothing isolated anywhere: the levels asked for"
    assert _held(("reinit", "random_mask"), (2, 5), ("init_imp",), (5, 7)) == (
        ("reinit", "random_mask", "init_imp"), (2, 5, 7))
    assert _held((), (1, 3), ("reinit",), (4,)) == (("reinit",), (4,)), "an IMP-only folder's levels never held any"
    assert _held(("random_prune",), (1, 3), ("reinit",), (4,)) == (("reinit", "random_prune"), (4,))
    assert _held(("reinit",), (), ("random_mask",), (4,)) == (("reinit", "random_mask"), ()), "every level absorbs"
    assert _held(("reinit",), (2,), (), (1, 3)) == (("reinit",), (2,)), "asking for none keeps what is held"


def _one_by_one(tmp_path, name, train, control, one_by_one=True, levels=None, saved=None):
    config = LotteryConfig(rounds=3, fraction=0.2, controls=CONTROLS, controls_from="init", control_levels=(2,))
    return run_lottery(tmp_path / name, init_params=[init(0), init(1)], reinit_params=[init(10), init(11)],
                       train=train, train_control=control, config=config, one_by_one=one_by_one,
                       on_level=None if levels is None else levels.append,
                       on_saved=None if saved is None else saved.append)


def test_one_by_one_trains_each_dense_network_and_isolated_control_alone_with_a_joint_runs_numbers(tmp_path):
    train, control, levels, saved = Recorder(), Recorder(), [], []
    alone = _one_by_one(tmp_path, "alone", train, control, levels=levels, saved=saved)
    joint = _one_by_one(tmp_path, "joint", Recorder(), Recorder(), one_by_one=False)
    assert [len(p) for p, _ in train.calls] == [1, 1, 4, 4, 4], "dense seed by seed, then imp + random_prune of both"
    assert [len(p) for p, _ in control.calls] == [1] * 6, "level 2's three isolated controls of two seeds, one each"
    assert levels == [0, 1, 2, 3]
    assert saved == [0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 3], "one call per training call, with its level"
    assert set(alone.masks) == set(joint.masks) and all(alone.masks[k] == joint.masks[k] for k in joint.masks)
    assert alone.to_frame().equals(joint.to_frame())


def test_one_by_one_keeps_every_finished_network_when_stopped_mid_level(tmp_path):
    joint = _one_by_one(tmp_path, "joint", Recorder(), Recorder(), one_by_one=False)
    with pytest.raises(KeyboardInterrupt):
        _one_by_one(tmp_path, "cut", Recorder(fail_on=1), Recorder())
    kept = json.loads((tmp_path / "cut" / "level_00" / "level.json").read_text())
    assert [(row["arm"], row["seed"]) for row in kept] == [("imp", 0)]
    with pytest.raises(KeyboardInterrupt):
        _one_by_one(tmp_path, "cut", Recorder(), Recorder(fail_on=4))
    kept = json.loads((tmp_path / "cut" / "level_02" / "level.json").read_text())
    assert len(kept) == 4 + 4, "imp and random_prune of both seeds, then four isolated controls"
    train, control, levels = Recorder(), Recorder(), []
    resumed = _one_by_one(tmp_path, "cut", train, control, levels=levels)
    assert [len(p) for p, _ in train.calls] == [4], "only level 3's pruned arms"
    assert [len(p) for p, _ in control.calls] == [1, 1], "only the two controls the stop cut off"
    assert levels == [0, 1, 2, 3]
    assert resumed.to_frame().equals(joint.to_frame())
