"""The one-run analysis: truncation, helix perturbations, PC-term matches and the formula, on a tiny run."""

import dataclasses

import numpy as np
import pytest
from scipy.stats import spearmanr

from physlens.errors import PhyslensError
from physlens.nuclear import analysis as nuclear_analysis
from physlens.nuclear import train as training
from physlens.nuclear.evaluate import predict
from physlens.nuclear.terms import term_vectors

TINY = training.NuclearTrainConfig(tasks=("B", "S_n"), zmin=20, nmin=20, width=6, depth=1, mlp_ratio=2, steps=30,
                                   batch_size=512, learning_rate=3e-2, warmup_steps=2, log_every=10,
                                   checkpoint_every=10)


@pytest.fixture(scope="module", params=["per_nucleon", "total"])
def run(request, tmp_path_factory):
    config = dataclasses.replace(TINY, binding_target=request.param)
    return training.train(config, tmp_path_factory.mktemp("nuclear") / request.param, progress=False)


@pytest.fixture(scope="module")
def result(run):
    return nuclear_analysis.analyse(run, n_pcs=4, sr_pcs=2, topography_N=50, generations=5, population_size=50,
                                    max_length=10)


def test_truncation_with_every_pc_equals_the_untouched_model(run, result):
    nuclei = result.nuclei
    model_B = predict(run, nuclei.Z, nuclei.N, "B")
    assert set(result.truncation) == {"blocks.0.resid", "penultimate"}
    for curve in result.truncation.values():
        np.testing.assert_allclose(curve.preds_full_B, model_B, rtol=1e-12)
        np.testing.assert_allclose(curve.preds_KB[-1], model_B, rtol=1e-9)
        assert curve.rms_K[-1] == pytest.approx(np.sqrt(np.mean((model_B - nuclei.B) ** 2)), rel=1e-9)
        assert curve.rms_K[0] > curve.rms_K[-1]


def test_unperturbed_helix_reproduces_the_model_and_perturbations_move_it(run, result):
    nuclei, table = result.nuclei, result.helix_perturbation
    err = predict(run, nuclei.Z, nuclei.N, "B") - nuclei.B
    held_out = ~nuclei.train.to_numpy()
    for name in ("Z", "N"):
        rows = table[table.embedding == name].set_index(["parameter", "factor"])
        assert rows.loc[("none", 1.0), "rms_all_MeV"] == pytest.approx(np.sqrt(np.mean(err**2)), rel=1e-9)
        assert rows.loc[("none", 1.0), "rms_val_MeV"] == pytest.approx(np.sqrt(np.mean(err[held_out] ** 2)), rel=1e-9)
        assert (rows.drop(("none", 1.0)).rms_all_MeV != rows.loc[("none", 1.0), "rms_all_MeV"]).all()


def test_pc_term_similarity_is_pearson_r_with_the_physics_terms(result):
    nuclei, sim = result.nuclei, result.match.to_frame()
    terms = term_vectors(nuclei.Z, nuclei.N)
    assert list(sim.columns) == list(nuclear_analysis.TERMS)
    for k in range(4):
        for term in ("volume", "pairing", "shell_P"):
            r = np.corrcoef(result.penultimate.projections_BK[:, k], terms[term])[0, 1]
            assert sim.loc[f"PC{k}", term] == pytest.approx(r, abs=1e-12)
    best = result.best_pc_per_term().set_index("term")
    assert abs(best.loc["pairing", "cos"]) == pytest.approx(sim["pairing"].abs().max())


def test_formula_is_least_squares_of_the_symbolic_pc_formulas(run, result):
    nuclei = result.nuclei
    X = nuclei[["Z", "N"]].to_numpy(float)
    A, B, train = nuclei.A.to_numpy(float), nuclei.B.to_numpy(), nuclei.train.to_numpy()
    if run.model.binding_per_nucleon:
        design = np.column_stack([np.ones(len(A)), A] + [A * f.predict(X) for f in result.symbolic])
    else:
        design = np.column_stack([np.ones(len(A))] + [f.predict(X) for f in result.symbolic])
    coef, *_ = np.linalg.lstsq(design[train], B[train], rcond=None)
    resid = design @ coef - B
    assert result.formula.rms_train == pytest.approx(np.sqrt(np.mean(resid[train] ** 2)), rel=1e-6)
    assert result.formula.rms_test == pytest.approx(np.sqrt(np.mean(resid[~train] ** 2)), rel=1e-6)
    summary = result.summary()
    assert summary["rms_formula_val"] == result.formula.rms_test and summary["n_nuclei"] == len(nuclei)


def test_index_structure_uses_the_rows_that_occur(run):
    nuclei = run.system.nuclei
    row = nuclear_analysis.index_structure_row(run.variables, nuclei)
    Z_T = np.unique(nuclei.Z)
    emb = np.asarray(run.variables["params"]["embed_Z"]["embedding"])[Z_T]
    centred = emb - emb.mean(axis=0)
    pc0 = centred @ np.linalg.eigh(centred.T @ centred)[1][:, -1]
    assert row["orderedness_Z"] == pytest.approx(abs(spearmanr(Z_T, pc0).statistic), rel=1e-9)


def test_bad_requests_are_one_line_errors(run):
    with pytest.raises(PhyslensError, match="no nucleus has N"):
        nuclear_analysis.analyse(run, n_pcs=4, sr_pcs=2, topography_N=7)
    with pytest.raises(PhyslensError, match="sr_pcs"):
        nuclear_analysis.analyse(run, n_pcs=9)


def test_slow_helix_sees_past_the_parity_zigzag():
    t_T = np.arange(8, 121)
    angle_T = 2 * np.pi * t_T / 40.0
    emb_TD = np.zeros((t_T.size, 5))
    emb_TD[:, 0] = np.cos(angle_T) + 1.5 * (-1.0) ** t_T
    emb_TD[:, 1] = np.sin(angle_T)
    emb_TD[:, 2] = 0.03 * t_T
    emb_TD += 1e-3 * np.random.default_rng(0).normal(size=emb_TD.shape)
    geometry = nuclear_analysis.embedding_geometry(emb_TD, t_T, "N")
    assert 1.0 / geometry.helix.frequency == pytest.approx(2.0, rel=1e-3)
    assert 1.0 / geometry.slow_helix.frequency == pytest.approx(40.0, rel=1e-2)
    assert geometry.slow_helix.radius == pytest.approx(1.0, rel=0.05)
    row = geometry.row()
    assert row["slow_helix_turns_N"] == pytest.approx(112 / 40.0, rel=1e-2)
    assert row["helix_period_N"] == pytest.approx(2.0, rel=1e-3)


def test_range_helix_fits_only_the_papers_range():
    """A helix of radius 1 and period 20 over N = 40 … 120, with the radius growing linearly outside it: the fit
    over the paper's range recovers the helix exactly, the fit over all rows does not."""
    t_T = np.arange(8, 161).astype(float)
    radius_T = 1.0 + 0.05 * np.clip(40 - t_T, 0, None) + 0.05 * np.clip(t_T - 120, 0, None)
    angle_T = 2 * np.pi * t_T / 20.0
    emb_TD = np.stack([radius_T * np.cos(angle_T), radius_T * np.sin(angle_T), 0.02 * t_T, np.zeros_like(t_T)], axis=1)
    geometry = nuclear_analysis.embedding_geometry(emb_TD, t_T.astype(int), "N")
    assert geometry.fit_range == (40, 120)
    fit = geometry.range_helix
    assert 1.0 / fit.frequency == pytest.approx(20.0, rel=1e-6) and fit.radius == pytest.approx(1.0, rel=1e-6)
    assert fit.r2 == pytest.approx(1.0, abs=1e-9) and fit.turns == pytest.approx(80 / 20.0, rel=1e-6)
    assert geometry.slow_helix.r2 < 0.99
    row = geometry.row()
    assert (row["range_helix_from_N"], row["range_helix_to_N"]) == (40, 120)
    assert row["range_helix_turns_N"] == pytest.approx(4.0, rel=1e-6)
    assert nuclear_analysis.embedding_geometry(emb_TD[:5], t_T[:5].astype(int), "N").range_helix is None
    with pytest.raises(PhyslensError, match="low < high"):
        nuclear_analysis.embedding_geometry(emb_TD, t_T.astype(int), "N", fit_range=(120, 40))
