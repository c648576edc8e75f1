"""Importance along training: every snapshot analysed, checked against a hand-zeroed NetKet RBM."""

import shutil

import numpy as np
import pandas as pd
import pytest

from physlens.quantum import protocols
from physlens.quantum.train import load, snapshots
from physlens.studies import hidden_units
from physlens.studies.executors import LocalExecutor
from physlens.studies.hidden_units_training import along_training

TAU = 0.3


def hand_energies(variables, n: int) -> tuple[float, np.ndarray]:
    """E of the RBM and of each single-unit removal (its cosh factor divided out), dense H over all 2^N states;
    and the Born weight of the total-S^z = 0 configurations."""
    system = protocols.apply("rbm-paper", hidden_units.Task(n, 1, 0, hidden_units.StudyConfig()).train_config()).build_system()
    h_SS = np.asarray(system.hamiltonian.to_dense())
    x_SN = np.asarray(system.hilbert.all_states())
    p = variables["params"]
    theta_SM = x_SN @ np.asarray(p["Dense"]["kernel"]) + np.asarray(p["Dense"]["bias"])
    log_psi_S = x_SN @ np.asarray(p["visible_bias"]) + np.log(np.cosh(theta_SM)).sum(axis=1)

    def energy(log_psi):
        psi = np.exp(log_psi - log_psi.max())
        return psi @ h_SS @ psi / (psi @ psi)

    born_S = np.exp(2 * (log_psi_S - log_psi_S.max()))
    weight_sz0 = born_S[x_SN.sum(axis=1) == 0].sum() / born_S.sum()
    return energy(log_psi_S), np.array([energy(log_psi_S - np.log(np.cosh(theta_SM[:, j])))
                                        for j in range(theta_SM.shape[1])]), weight_sz0


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("along") / "study"
    config = hidden_units.StudyConfig(sizes=(6,), alphas=(1,), seeds=1, extra=(), steps=90, protocol="rbm-paper",
                                      snapshot_every=30, out=str(out))
    hidden_units.run_study(config, LocalExecutor(1), progress=False)
    return out


def test_every_snapshot_is_analysed_exactly(study):
    table = along_training(study, TAU)
    assert table["step"].tolist() == [0, 30, 60]
    run = load(study / "runs" / "N06-a1-s00")
    for (step, variables), row in zip(snapshots(run), table.itertuples()):
        energy, removed_M, weight_sz0 = hand_energies(variables, 6)
        assert row.weight_sz0 == pytest.approx(weight_sz0, rel=1e-12)
        assert row.energy_sampled == run.metrics().set_index("step").loc[step, "energy"]
        impact_M = np.abs(removed_M - energy) / abs(energy)
        assert row.energy == pytest.approx(energy, abs=1e-12)
        assert row.eps == pytest.approx(abs(energy - run.reference["energy"]) / abs(run.reference["energy"]), rel=1e-10)
        assert row.max_energy_impact == pytest.approx(impact_M.max(), rel=1e-9, abs=1e-14)
        assert row.m_energy == int((impact_M > TAU).sum())
        assert row.m_important >= max(row.m_energy, row.m_correlation)


def test_stored_tables_are_reused(study):
    first = along_training(study, TAU)
    stored = study / "along" / "N06-a1-s00.parquet"
    before = stored.stat().st_mtime_ns
    again = along_training(study, TAU)
    assert stored.stat().st_mtime_ns == before
    assert first.equals(again)


@pytest.mark.parametrize(("steps", "analysed"), [(90, True), (0, False)])
def test_a_model_that_ended_collapsed_is_analysed_one_ended_by_an_exception_is_not(study, tmp_path, steps, analysed):
    copy = tmp_path / "study"
    shutil.copytree(study, copy, ignore=shutil.ignore_patterns("along", "along.parquet"))
    result = copy / "results" / "N06-a1-s00.parquet"
    pd.read_parquet(result).assign(state="failed", steps=steps, converged=False).to_parquet(result)
    table = along_training(copy, TAU)
    assert (table["step"].tolist() == [0, 30, 60]) if analysed else table.empty
