"""Symbolic regression of features, and linear combinations of the formulas found.

Domain-free: inputs are columns ``X_BF`` with names, the target a vector ``y_B``. The
search is genetic programming with local optimisation of the constants, by Operon
(Burlacu, Kronberger & Kommenda 2020, GECCO; the ``pyoperon`` package from PyPI; PySR
would need a Julia download). The formula comes back as a string in the input names,
which ``evaluate_expression`` turns back into numbers, so a result needs no live
regressor. ``combine_formulas`` fits a target as a linear combination of formulas, as in
Kitouni et al. 2024 ("From Neurons to Neutrons", arXiv:2405.17425), where formulas for
the leading principal components of a network's last layer combine into a mass formula::

    fit = fit_symbolic(X_B2, pc0_B, ("Z", "N"))       # fit.expression, fit.rms, fit.complexity
    combo = combine_formulas(np.stack([f.predictions_B for f in fits], 1), y_B, train_B)

Every search runs single-threaded with a fixed seed, so a fit is reproducible.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from physlens.errors import PhyslensError
from physlens.lens.geometry import as_matrix

DEFAULT_SYMBOLS = "add,sub,mul,div,square,sqrt,cbrt,sin,cos,constant,variable"
"""Operators the search may use by default (Operon's names): arithmetic, powers, and periodic functions."""

_FUNCTIONS = {"sin": np.sin, "cos": np.cos, "sqrt": np.sqrt, "cbrt": np.cbrt, "square": np.square, "exp": np.exp,
              "log": np.log, "abs": np.abs, "tanh": np.tanh, "tan": np.tan}
_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][-+]?\d+)?)|([A-Za-z_]\w*)|(\*\*|[-+*/^(),]))")


@dataclass(frozen=True)
class SymbolicFit:
    """A formula found by symbolic regression for one target.

    Attributes:
        expression: the formula in the input names (``^`` is a power), evaluable by
            ``evaluate_expression``.
        names: the input names, one per column of X.
        rms: RMS of formula − target over the fitted rows (units of the target).
        r2: ``1 − Σ residual² / Σ (y − mean y)²`` over the fitted rows.
        complexity: Operon's complexity of the formula (node count weighted by operator).
        length: number of nodes of the expression tree.
        seconds: wall time of the search.
        predictions_B: the formula's value on the fitted rows.
    """

    expression: str
    names: tuple[str, ...]
    rms: float
    r2: float
    complexity: int
    length: int
    seconds: float
    predictions_B: np.ndarray

    def predict(self, X_BF: ArrayLike) -> np.ndarray:
        """The formula on inputs ``X_BF`` (columns in the order of ``names``), shape (B,)."""
        return evaluate_expression(self.expression, X_BF, self.names)

    def to_frame(self) -> pd.DataFrame:
        """One row: expression, RMS, R², complexity, length and seconds."""
        return pd.DataFrame([{"expression": self.expression, "rms": self.rms, "r2": self.r2,
                              "complexity": self.complexity, "length": self.length, "seconds": self.seconds}])


def _python_form(expression: str, names: Sequence[str]) -> str:
    """The expression with ``^`` as ``**``, checked to hold only numbers, known names and operators."""
    allowed, out, pos = set(names) | set(_FUNCTIONS), [], 0
    while pos < len(expression.rstrip()):
        match = _TOKEN.match(expression, pos)
        if match is None:
            raise PhyslensError(f"cannot read the expression at {expression[pos:pos + 20]!r}; allowed: numbers, "
                                f"the names {', '.join(names)}, {', '.join(_FUNCTIONS)}, + - * / ^ ( )")
        number, name, op = match.groups()
        if name is not None and name not in allowed:
            raise PhyslensError(f"unknown name {name!r} in expression; allowed: {', '.join(sorted(allowed))}")
        out.append(number or name or ("**" if op == "^" else op))
        pos = match.end()
    return " ".join(out)


def evaluate_expression(expression: str, X_BF: ArrayLike, names: Sequence[str]) -> np.ndarray:
    """Value of an infix ``expression`` in the column ``names`` on rows ``X_BF``, shape (B,)."""
    X_BF = as_matrix(X_BF, "X_BF", min_rows=1)
    if X_BF.shape[1] != len(names):
        raise PhyslensError(f"X_BF has {X_BF.shape[1]} columns for {len(names)} names; allowed: one name per column")
    scope = {"__builtins__": {}, **_FUNCTIONS, **{n: X_BF[:, i] for i, n in enumerate(names)}}
    with np.errstate(all="ignore"):
        value = eval(_python_form(expression, names), scope)  # noqa: S307  (checked tokens, no builtins)
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (X_BF.shape[0],)).copy()


def fit_symbolic(
    X_BF: ArrayLike,
    y_B: ArrayLike,
    names: Sequence[str],
    *,
    generations: int = 200,
    population_size: int = 1000,
    max_length: int = 30,
    symbols: str = DEFAULT_SYMBOLS,
    optimizer_iterations: int = 10,
    seed: int = 0,
) -> SymbolicFit:
    """Search a formula ``y ≈ f(X)`` by genetic programming (Operon, one thread).

    ``X_BF`` holds B rows of F inputs named by ``names`` (valid identifiers); ``y_B`` is
    the target. The search evolves ``population_size`` trees of at most ``max_length``
    nodes over ``generations`` generations with the operators ``symbols`` and returns
    the most accurate formula of the final population, with its RMS on the fitted rows.
    Each candidate's constants get ``optimizer_iterations`` Levenberg–Marquardt steps;
    Operon computes in single precision, so a formula is exact to about 1e-7 relative.
    """
    from pyoperon.sklearn import SymbolicRegressor

    X_BF = as_matrix(X_BF, "X_BF", min_rows=3)
    y_B = np.asarray(y_B, dtype=np.float64)
    names = tuple(names)
    if y_B.shape != (X_BF.shape[0],) or not np.all(np.isfinite(y_B)):
        raise PhyslensError(f"y_B has shape {y_B.shape}; allowed: {X_BF.shape[0]} finite values, one per row of X_BF")
    if len(names) != X_BF.shape[1] or not all(n.isidentifier() and n not in _FUNCTIONS for n in names):
        raise PhyslensError(f"names {list(names)} must be {X_BF.shape[1]} identifiers other than "
                            f"{', '.join(_FUNCTIONS)}")
    if min(generations, population_size, max_length, optimizer_iterations) < 1:
        raise PhyslensError("generations, population_size, max_length and optimizer_iterations must be >= 1")
    start = time.perf_counter()
    regressor = SymbolicRegressor(allowed_symbols=symbols, generations=generations, population_size=population_size,
                                  max_length=max_length, optimizer_iterations=optimizer_iterations,
                                  random_state=seed, n_threads=1)
    regressor.fit(X_BF, y_B)
    seconds = time.perf_counter() - start
    expression = regressor.get_model_string(regressor.model_, 12, list(names))
    pred_B = evaluate_expression(expression, X_BF, names)
    resid_B = pred_B - y_B
    ss_tot = float(np.sum((y_B - y_B.mean()) ** 2))
    return SymbolicFit(
        expression=expression,
        names=names,
        rms=float(np.sqrt(np.mean(resid_B**2))),
        r2=1.0 - float(np.sum(resid_B**2)) / ss_tot if ss_tot > 0 else float("nan"),
        complexity=int(regressor.stats_["model_complexity"]),
        length=int(regressor.stats_["model_length"]),
        seconds=seconds,
        predictions_B=pred_B,
    )


@dataclass(frozen=True)
class FormulaCombination:
    """A target fitted as ``c0 + Σ_f c_f·feature_f`` by least squares on the training rows.

    Attributes:
        intercept: c0 (units of the target).
        coefficients_F: c_f per feature.
        predictions_B: the combination on every row.
        rms_train: RMS of the residual over the training rows.
        rms_test: RMS over the other rows (NaN when every row trains).
        feature_names: one name per feature.
        exact: always True: a closed-form least-squares solution, no sampling.
    """

    intercept: float
    coefficients_F: np.ndarray
    predictions_B: np.ndarray
    rms_train: float
    rms_test: float
    feature_names: tuple[str, ...]
    exact: bool = True

    def to_frame(self) -> pd.DataFrame:
        """One row per term: ``intercept`` then each feature with its coefficient."""
        return pd.DataFrame({"term": ["intercept", *self.feature_names],
                             "coefficient": [self.intercept, *self.coefficients_F]})


def combine_formulas(features_BF: ArrayLike, y_B: ArrayLike, train_B: ArrayLike | None = None,
                     feature_names: Sequence[str] | None = None) -> FormulaCombination:
    """Least-squares fit of ``y_B`` by an intercept plus a linear combination of the columns of ``features_BF``.

    ``train_B`` (bool, default all rows) selects the rows the coefficients are fitted on;
    the RMS is reported on those and on the rest separately. ``feature_names`` defaults
    to ``f0, f1, ...``.
    """
    features_BF = as_matrix(features_BF, "features_BF")
    B, F = features_BF.shape
    y_B = np.asarray(y_B, dtype=np.float64)
    train_B = np.ones(B, dtype=bool) if train_B is None else np.asarray(train_B, dtype=bool)
    if y_B.shape != (B,) or train_B.shape != (B,) or not np.all(np.isfinite(y_B)):
        raise PhyslensError(f"y_B and train_B must be {B} finite values and booleans, one per row of features_BF")
    names = tuple(f"f{i}" for i in range(F)) if feature_names is None else tuple(feature_names)
    if len(names) != F:
        raise PhyslensError(f"{len(names)} feature names for {F} features; allowed: one name per column")
    if train_B.sum() <= F:
        raise PhyslensError(f"{int(train_B.sum())} training rows for {F + 1} coefficients; allowed: more rows than that")
    design_BF = np.column_stack([np.ones(B), features_BF])
    coef, *_ = np.linalg.lstsq(design_BF[train_B], y_B[train_B], rcond=None)
    pred_B = design_BF @ coef
    err2_B = (pred_B - y_B) ** 2
    test = ~train_B
    return FormulaCombination(
        intercept=float(coef[0]),
        coefficients_F=coef[1:],
        predictions_B=pred_B,
        rms_train=float(np.sqrt(err2_B[train_B].mean())),
        rms_test=float(np.sqrt(err2_B[test].mean())) if test.any() else float("nan"),
        feature_names=names,
    )
