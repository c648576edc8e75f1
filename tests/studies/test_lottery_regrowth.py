"""Regrowing the weights IMP removed: the start of each upward level by hand, the upward networks' support and exact
energies, resumption, and the hysteresis reading."""

import jax
import numpy as np
import pandas as pd
import pytest

from physlens.errors import PhyslensError
from physlens.lens.lottery import level_params, params_from
from physlens.lens.mask import Mask
from physlens.studies.lottery import run_study
from physlens.studies.lottery_config import BARTON, StudyConfig
from physlens.studies.lottery_regrowth import hysteresis, regrow, regrowth_start

CONFIG = StudyConfig(system="tfim-chain", size=6, system_params={"h": 1.0, "pbc": True}, widths=(12,), dense_steps=40,
                     steps=15, rewind_step=40, rounds=3, **{**BARTON, "seeds": (0,), "samples": 256, "controls": ()})


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("regrow") / "chain"
    run_study(CONFIG, out)
    return out


@pytest.fixture(scope="module")
def like():
    model = CONFIG.build_model()
    return model.init(jax.random.PRNGKey(0), np.ones((1, 6)))["params"]


def test_start_keeps_trained_weights_and_regrows_rewound_ones():
    trained = {"layers.0": {"kernel": np.array([[1.0, 0.0], [2.0, 0.0]])}}
    rewind = {"layers.0": {"kernel": np.array([[9.0, 8.0], [7.0, 6.0]])}}
    kept = Mask({"layers.0": {"kernel": np.array([[1, 0], [1, 0]])}})
    grown = Mask({"layers.0": {"kernel": np.array([[1, 1], [1, 0]])}})
    start = regrowth_start(trained, rewind, kept, grown)
    np.testing.assert_array_equal(start["layers.0"]["kernel"], [[1.0, 8.0], [2.0, 0.0]])
    with pytest.raises(PhyslensError, match="not nested"):
        regrowth_start(trained, rewind, grown, kept)


def test_upward_networks_live_on_their_masks_with_exact_energies(study, like):
    frame = regrow(study, from_level=3, to_level=1, seed=0)
    assert frame.level.tolist() == [2, 1]
    system = CONFIG.build_system()
    basis = np.asarray(system.hilbert.all_states())
    h = system.sparse_hamiltonian()
    e0 = np.linalg.eigvalsh(h.toarray())[0]
    down = pd.read_csv(study / "levels.csv").query("arm == 'imp'").set_index("level").rel_error
    model = CONFIG.build_model()
    for _, row in frame.iterrows():
        level = int(row.level)
        params = params_from(study / "regrowth-s0-from-03" / f"level_{level:02d}.params.npz", like)
        mask = Mask.load(study / "levels" / f"level_{level:02d}" / "imp_seed0.mask.npz", like)
        kernel, keep = np.asarray(params["layers.0"]["kernel"]), mask.leaves()["layers.0/kernel"]
        assert np.all(kernel[~keep] == 0) and np.count_nonzero(kernel) > np.count_nonzero(
            level_params(study / "levels", level + 1, "imp", 0, like)["layers.0"]["kernel"])
        psi = np.exp(np.asarray(model.apply({"params": params}, basis)))
        psi /= np.linalg.norm(psi)
        energy = psi @ (h @ psi)
        assert row.energy == pytest.approx(energy, abs=1e-9)
        assert row.error_up == pytest.approx(abs(energy - e0) / abs(e0), rel=1e-8)
        assert row.error_down == pytest.approx(down[level], rel=1e-12)
        assert row.ratio == pytest.approx(row.error_up / row.error_down)
        assert row.abs_m_z == pytest.approx(psi**2 @ np.abs(basis.mean(axis=1)), abs=1e-12)


def test_a_longer_climb_continues_without_retraining(study, like):
    first = regrow(study, from_level=3, to_level=1, seed=0)
    saved = (study / "regrowth-s0-from-03" / "level_01.params.npz").read_bytes()
    longer = regrow(study, from_level=3, to_level=0, seed=0)
    assert longer.level.tolist() == [2, 1, 0]
    pd.testing.assert_frame_equal(longer.iloc[:2], first)
    assert (study / "regrowth-s0-from-03" / "level_01.params.npz").read_bytes() == saved


@pytest.mark.parametrize("levels", [(3, 3), (5, 1), (2, -1)])
def test_bad_levels_are_refused(study, levels):
    with pytest.raises(PhyslensError, match="need finished IMP levels"):
        regrow(study, *levels)


def test_hysteresis_reads_the_ratio():
    frame = pd.DataFrame({"level": [5, 4, 3], "rho": [2.0, 2.5, 3.0], "ratio": [1.2, 5.0, 0.9]})
    assert hysteresis(frame) == {"hysteresis": True, "levels_apart": [4], "largest_ratio": 5.0, "at_rho": 2.5}
    assert not hysteresis(frame.assign(ratio=[1.2, 1.5, 0.6]))["hysteresis"]


def test_the_study_summary_and_report_show_the_climb(study, tmp_path):
    from physlens.report.lottery import write_report
    from physlens.studies.lottery_summary import summarize

    regrow(study, from_level=3, to_level=1, seed=0)
    summary = summarize(study)
    assert summary.regrowth.climb.unique().tolist() == ["regrowth-s0-from-03"]
    claim = summary.claims[summary.claims.question.str.startswith("Hysteresis")].iloc[0]
    assert claim.answer == ("yes" if hysteresis(summary.regrowth)["hysteresis"] else "no")
    assert f"{summary.regrowth.ratio.max():.3g}" in claim.detail
    html = write_report(summary, tmp_path / "report.html").read_text()
    assert "Regrowing the pruned weights" in html
