"""A study in Barton et al.'s protocol measured: magnetisations and fidelities by full sums,
and by sampling for a lattice treated as too large to sum."""

import json

import jax
import netket as nk
import numpy as np
import pandas as pd
import pytest

from physlens.lens.lottery import level_params
from physlens.quantum.monte_carlo_problem import MonteCarloProblem
from physlens.report.lottery import write_report
from physlens.studies.lottery import run_study
from physlens.studies.lottery_config import BARTON, StudyConfig
from physlens.studies.lottery_observables import measure
from physlens.studies.lottery_summary import summarize


CONFIG = StudyConfig(system="tfim-chain", size=6, system_params={"h": 1.0, "pbc": True}, widths=(12,), dense_steps=40,
                     steps=15, rewind_step=40, control_steps=20, rounds=3, control_levels=(2,),
                     **{**BARTON, "seeds": (0, 1), "samples": 256})


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("barton") / "chain"
    run_study(CONFIG, out)
    return out


def test_each_level_removes_12_percent_rounded_to_nearest(study):
    levels = pd.read_csv(study / "levels.csv")
    kept = [72]
    for _ in range(3):
        kept.append(kept[-1] - int(np.rint(0.12 * kept[-1])))
    imp = levels[levels.arm == "imp"].groupby("level").density.first()
    np.testing.assert_allclose(imp.to_numpy() * 72, kept)
    assert set(levels[levels.level == 2].arm) == {"imp", "reinit", "random_mask", "random_prune", "init_imp"}
    assert set(levels[levels.level == 3].arm) == {"imp", "random_prune"}


def test_observables_are_full_sums_of_the_saved_networks(study):
    frame = measure(study)
    system, model = CONFIG.build_system(), CONFIG.build_model()
    basis = np.asarray(system.hilbert.all_states())
    like = model.init(jax.random.PRNGKey(0), basis[:1])["params"]

    def psi(level, arm, seed):
        amplitude = np.exp(np.asarray(model.apply({"params": level_params(study / "levels", level, arm, seed, like)}, basis)))
        return amplitude / np.linalg.norm(amplitude)

    row = frame[(frame.level == 2) & (frame.arm == "imp") & (frame.seed == 1)].iloc[0]
    state, dense, before = psi(2, "imp", 1), psi(0, "imp", 1), psi(1, "imp", 1)
    m = basis.mean(axis=1)
    assert row.m_z == pytest.approx(state**2 @ m, abs=1e-12)
    assert row.abs_m_z == pytest.approx(state**2 @ np.abs(m), abs=1e-12)
    mx = sum(nk.operator.spin.sigmax(system.hilbert, i) for i in range(6)).to_sparse() / 6
    assert row.m_x == pytest.approx(state @ (mx @ state), abs=1e-12)
    assert row.fidelity_dense == pytest.approx((state @ dense) ** 2, abs=1e-12)
    assert row.fidelity_previous == pytest.approx((state @ before) ** 2, abs=1e-12)
    assert row.rho == pytest.approx(row.density * 72 / 6)
    dense_rows = frame[frame.level == 0]
    np.testing.assert_allclose(dense_rows.fidelity_dense, 1.0, atol=1e-12)


def test_report_shows_the_observables(study, tmp_path):
    summary = summarize(study)
    summary.write_tables(tmp_path)
    assert (tmp_path / "observables.csv").is_file()
    html = write_report(summary, tmp_path / "report.html").read_text()
    assert "What the tickets represent" in html and "⟨|m_z|⟩" in html


SAMPLED = StudyConfig(system="tfim-square", size=3, system_params={"h": 2.0, "pbc": False}, widths=(4,), dense_steps=30,
                      steps=10, rewind_step=30, rounds=2, evaluation="sampled", eval_samples=4096, reference_chi=16,
                      **{**BARTON, "seeds": (0,), "samples": 256, "controls": ()})


@pytest.fixture(scope="module")
def sampled(tmp_path_factory):
    out = tmp_path_factory.mktemp("sampled") / "square"
    run_study(SAMPLED, out)
    return out


def test_a_sampled_study_estimates_energies_against_dmrg(sampled):
    """3×3 lattice run as if too large to sum: DMRG reference, Monte Carlo energies, both checked by full sums."""
    system, model = SAMPLED.build_system(), SAMPLED.build_model()
    study = json.loads((sampled / "study.json").read_text())
    assert study["e0"] == pytest.approx(system.exact().energy, rel=1e-10) and study["reference"].startswith("DMRG")
    assert study["energy_method"].startswith("Monte Carlo: 4,096 samples")
    basis = np.asarray(system.hilbert.all_states())
    like = model.init(jax.random.PRNGKey(0), basis[:1])["params"]
    levels = pd.read_csv(sampled / "levels.csv")
    assert len(levels) == 3 and (levels.energy_sem > 0).all()
    for row in levels.itertuples():
        exact = system.energy_of(np.asarray(model.apply({"params": level_params(sampled / "levels", row.level, row.arm,
                                                                                row.seed, like)}, basis)))
        assert abs(row.energy - exact) < 5 * row.energy_sem
        assert row.rel_error == pytest.approx(abs(row.energy - study["e0"]) / abs(study["e0"]), rel=1e-12)


def test_sampled_observables_are_estimated_once_and_kept(sampled, monkeypatch, tmp_path):
    frame = measure(sampled)
    assert len(frame) == 3 and frame.method.str.startswith("Monte Carlo").all()
    assert (frame.abs_m_z_sem > 0).all() and frame[frame.level == 0].fidelity_dense.eq(1.0).all()
    assert frame.fidelity_previous.between(0.5, 1.05).all()

    def refuse(*args, **kwargs):
        raise AssertionError("sampled again")

    monkeypatch.setattr(MonteCarloProblem, "sample", refuse)
    pd.testing.assert_frame_equal(measure(sampled), frame)
    summary = summarize(sampled)
    levels = pd.read_csv(sampled / "levels.csv")
    np.testing.assert_allclose(summary.curve.sort_values("level").rel_sem, levels.energy_sem / abs(summary.study["e0"]))
    html = write_report(summary, tmp_path / "report.html").read_text()
    assert "estimated by sampling" in html and "E_ref" in html and "Monte Carlo σ_E/|E0|" in html
