"""IMP with rewinding and its controls, driven by a fake quadratic trainer (no physics)."""

import math

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.lottery import CONTROLS, LotteryConfig, TrainedBatch, run_lottery
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
