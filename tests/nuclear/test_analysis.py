"""The one-run analysis: truncation, helix perturbations, PC-term matches and the formula, on a tiny run."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from physlens.errors import PhyslensError
from physlens.nuclear import analysis as nuclear_analysis
from physlens.nuclear import train as training
from physlens.nuclear.evaluate import predict
from physlens.nuclear.terms import term_vectors

TINY = training.NuclearTrainConfig(tasks=("B", "S_n"), zmin=20, nmin=20, width=6, depth=1, mlp_ratio=2, steps=30,
                                   batch_size=512, learning_rate=3e-2, warmup_steps=2, log_every=10,
                                   checkpoint_every=10)


@pytest.fixture(scope="module", params=["per_nucleon", pytest.param("total", marks=pytest.mark.slow)])
# slow: the total-B readout repeats per_nucleon's analysis properties; its training: tests/nuclear/test_train.py
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


def test_bad_requests_are_one_line_errors(run):
    with pytest.raises(PhyslensError, match="no nucleus has N"):
        nuclear_analysis.analyse(run, n_pcs=4, sr_pcs=2, topography_N=7)
    with pytest.raises(PhyslensError, match="sr_pcs"):
        nuclear_analysis.analyse(run, n_pcs=9)


def test_helix_predictions_give_the_perturbation_table(run, result):
    table, predictions = nuclear_analysis.perturb_helix(run)
    pd.testing.assert_frame_equal(table, result.helix_perturbation)
    truth = result.nuclei.set_index(["Z", "N"]).B
    for (name, param, factor), rows in predictions.groupby(["embedding", "parameter", "factor"]):
        err = rows.B_MeV.to_numpy() - truth.loc[list(zip(rows.Z, rows.N))].to_numpy()
        expected = table[(table.embedding == name) & (table.parameter == param) & (table.factor == factor)]
        assert np.sqrt(np.mean(err**2)) == pytest.approx(expected.rms_all_MeV.iloc[0], rel=1e-12)
    unperturbed = predictions[(predictions.embedding == "Z") & (predictions.parameter == "none")]
    np.testing.assert_allclose(unperturbed.B_MeV, predict(run, unperturbed.Z, unperturbed.N, "B"), rtol=1e-9)


def test_direct_formula_uses_the_pc_routes_budget_and_held_out_nuclei(run):
    direct = nuclear_analysis.direct_formula(run, sr_pcs=2, generations=3, population_size=50, max_length=10)
    nuclei = run.system.nuclei
    X, B, train = nuclei[["Z", "N"]].to_numpy(float), nuclei.B.to_numpy(), nuclei.train.to_numpy()
    err = direct.fit.predict(X) - B
    assert direct.generations == 6
    assert direct.rms_val == pytest.approx(np.sqrt(np.mean(err[~train] ** 2)), rel=1e-9)
    assert direct.rms_train == pytest.approx(direct.fit.rms, rel=1e-5)
