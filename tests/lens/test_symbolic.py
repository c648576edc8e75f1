"""Symbolic regression recovers known formulas; formulas evaluate and combine correctly."""

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.symbolic import combine_formulas, evaluate_expression, fit_symbolic


def test_search_recovers_a_known_formula_that_generalises():
    rng = np.random.default_rng(0)
    X_B2 = rng.uniform(1.0, 5.0, (300, 2))
    y_B = 1.5 * X_B2[:, 0] * X_B2[:, 1] - 0.7 * X_B2[:, 1] ** 2 + 3.0
    fit = fit_symbolic(X_B2, y_B, ("x", "y"), generations=60, population_size=300, max_length=20, seed=1)
    assert fit.rms < 1e-5 * np.std(y_B)     # Operon works in single precision
    X_new = rng.uniform(6.0, 9.0, (50, 2))     # outside the fitted range: only the true formula extrapolates
    truth = 1.5 * X_new[:, 0] * X_new[:, 1] - 0.7 * X_new[:, 1] ** 2 + 3.0
    np.testing.assert_allclose(fit.predict(X_new), truth, rtol=1e-5)
    np.testing.assert_allclose(fit.predictions_B, fit.predict(X_B2))
    assert fit.length >= 5 and fit.complexity >= fit.length - 1 and fit.r2 > 1 - 1e-12


def test_evaluate_expression_by_hand():
    X_B2 = np.array([[1.0, 8.0], [4.0, 27.0]])
    value = evaluate_expression("(2.5 * (Z ^ 2)) - cbrt(N) + (sqrt(Z) * cos(0.0)) / 2e0", X_B2, ("Z", "N"))
    np.testing.assert_allclose(value, [2.5 - 2 + 0.5, 40 - 3 + 1])
    np.testing.assert_allclose(evaluate_expression("1.5", X_B2, ("Z", "N")), [1.5, 1.5])


@pytest.mark.parametrize("expression", ["__import__('os')", "Z.real", "open(N)", "Z; N", "Z[0]"])
def test_evaluate_expression_rejects_other_code(expression):
    with pytest.raises(PhyslensError):
        evaluate_expression(expression, np.ones((2, 2)), ("Z", "N"))


def test_combination_equals_normal_equations_on_training_rows():
    rng = np.random.default_rng(3)
    F_B3, y_B = rng.normal(size=(40, 3)), rng.normal(size=40)
    train_B = np.arange(40) < 30
    combo = combine_formulas(F_B3, y_B, train_B, ["a", "b", "c"])
    assert list(combo.to_frame().term) == ["intercept", "a", "b", "c"]
    design = np.column_stack([np.ones(30), F_B3[:30]])
    coef = np.linalg.solve(design.T @ design, design.T @ y_B[:30])
    np.testing.assert_allclose([combo.intercept, *combo.coefficients_F], coef, rtol=1e-10)
    pred = np.column_stack([np.ones(40), F_B3]) @ coef
    assert combo.rms_train == pytest.approx(np.sqrt(np.mean((pred - y_B)[:30] ** 2)))
    assert combo.rms_test == pytest.approx(np.sqrt(np.mean((pred - y_B)[30:] ** 2)))


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(PhyslensError, match="names"):
        fit_symbolic(np.ones((5, 2)), np.ones(5), ("x",))
    with pytest.raises(PhyslensError, match="y_B"):
        fit_symbolic(np.ones((5, 2)), np.ones(4), ("x", "y"))
    with pytest.raises(PhyslensError, match="training rows"):
        combine_formulas(np.ones((5, 3)), np.ones(5), np.arange(5) < 2)
