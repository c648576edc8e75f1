"""Giving a ticket back the filter of a lost term (``physlens.studies.lottery_rescue``): the masks by hand, and
the whole intervention on a small study against its own IMP levels."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from physlens.errors import PhyslensError
from physlens.lens.mask import Mask
from physlens.studies.lottery import run_study
from physlens.studies.lottery_config import StudyConfig
from physlens.studies.lottery_rescue import rescue_masks, write_rescue
from physlens.studies.lottery_summary import summarize

CHAIN_BONDS = np.array([[0, 1], [1, 2], [2, 3]])


def _mask(*supports: tuple[int, ...], n_sites: int = 4) -> Mask:
    keep_NM = np.zeros((n_sites, len(supports)), bool)
    for j, sites in enumerate(supports):
        keep_NM[list(sites), j] = True
    return Mask({"kernel": keep_NM})


def test_the_term_arm_gives_back_one_spanning_unit_and_the_control_as_many_other_weights():
    before = _mask((0, 1), (1, 2), (0, 2, 3))
    after = _mask((0, 1), (1,), (2, 3))                     # unit 1 lost site 2: bond 1-2 is no longer spanned
    term, control, lost = rescue_masks(before, after, CHAIN_BONDS, seed=0)
    assert lost == [(1, 2)]
    np.testing.assert_array_equal(term.leaves()["kernel"], _mask((0, 1), (1, 2), (2, 3)).leaves()["kernel"])
    np.testing.assert_array_equal(control.leaves()["kernel"], _mask((0, 1), (1,), (0, 2, 3)).leaves()["kernel"])
    with pytest.raises(PhyslensError, match="spans every term"):
        rescue_masks(before, before, CHAIN_BONDS, seed=0)



def test_a_lost_plaquette_gets_back_the_unit_that_needs_fewest_weights():
    plaquettes = np.array([[0, 1, 2, 3], [2, 3, 4, 5]])
    before = _mask((2, 3, 4, 5), (0, 2, 3, 4, 5), (0, 1, 2, 3), (1,), (0, 1, 4), n_sites=6)
    after = _mask((2, 3), (0, 2, 3, 4), (0, 1, 2, 3), (), (), n_sites=6)    # units 0 and 1 no longer span plaquette 1
    term, control, lost = rescue_masks(before, after, plaquettes, seed=3)
    assert lost == [(2, 3, 4, 5)]
    expected = _mask((2, 3), (0, 2, 3, 4, 5), (0, 1, 2, 3), (), (), n_sites=6)     # unit 1: one weight, unit 0: two
    np.testing.assert_array_equal(term.leaves()["kernel"], expected.leaves()["kernel"])
    given_back = control.leaves()["kernel"] & ~after.leaves()["kernel"]
    assert given_back.sum() == 1 and not given_back[5, 1], "the control draws one other pruned weight"
    every, control, _ = rescue_masks(before, after, plaquettes, seed=3, every_unit=True)
    expected = _mask((2, 3, 4, 5), (0, 2, 3, 4, 5), (0, 1, 2, 3), (), (), n_sites=6)     # units 0 and 1 again
    np.testing.assert_array_equal(every.leaves()["kernel"], expected.leaves()["kernel"])
    assert control.kept == every.kept == after.kept + 3


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("rescue") / "tiny"
    run_study(dataclasses.replace(StudyConfig.preset("tiny"), steps=40, rounds=8, seeds=(0,), controls=()), out)
    return out


def test_rescue_on_a_small_study_writes_its_rows_beside_imps(study):
    frame, path = write_rescue(study, seed=0)
    levels = pd.read_csv(study / "levels.csv")
    imp = levels[levels.arm == "imp"].set_index("level").rel_error
    first = int(frame.level[frame.arm == "term"].iloc[0])
    assert frame.arm.tolist() == ["imp", "imp", "term", "control"]
    np.testing.assert_allclose(frame.rel_error[:2], [imp[first - 1], imp[first]])
    assert (frame.weights_added[2:] == frame.weights_added.iloc[2]).all() and frame.weights_added.iloc[2] >= 1
    assert pd.read_csv(path).arm.tolist() == frame.arm.tolist() and not (study / ".physlens.lock").exists()
    np.testing.assert_allclose(summarize(study).rescue.rel_error, frame.rel_error, rtol=1e-11)
