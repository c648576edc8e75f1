"""Aggregates of the hidden-unit study: m′/M against N, power laws m′ = a·N^k per α,
the sensitivity of both to τ, and the dependence on α.

Every function takes the tables of ``hidden_units.collect`` and uses converged
models only (ε < tol), as the study does.

    tables = collect("docs/studies/hidden-units")
    size_scaling(tables["models"])                   # k ± SE and R² per α, one point per model
    seed_averaged_scaling(tables["models"])          # the same fitted to the seed means, as the paper fits
    tau_sensitivity(tables["models"], tables["units"], np.linspace(0.05, 0.6, 12))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from physlens.errors import PhyslensError
from physlens.lens.scaling import power_law_fit
from physlens.studies.hidden_units_checks import (criterion_summary, failure_anatomy, failure_summary, importance_by_path,
                                                  sampled_criteria)

if TYPE_CHECKING:
    from pathlib import Path

TAUS = np.round(np.arange(0.05, 0.6001, 0.05), 2)
"""The τ grid of the sensitivity analysis, 0.05 … 0.60."""


def converged(models: pd.DataFrame) -> pd.DataFrame:
    """The models that reached ε < tol."""
    if models.empty:
        raise PhyslensError("the study has no stored models yet")
    return models[models["converged"]]


def fraction_by_size(models: pd.DataFrame) -> pd.DataFrame:
    """Per (α, N): models run and converged, mean and standard deviation of m′/M and m′, mean ρ."""
    rows = []
    for (alpha, n), group in models.groupby(["alpha", "N"]):
        ok = group[group["converged"]]
        rows.append({"alpha": alpha, "N": n, "models": len(group), "converged": len(ok),
                     "frac_mean": ok["frac_important"].mean(), "frac_std": ok["frac_important"].std(ddof=1),
                     "m_mean": ok["m_important"].mean(), "rho_mean": ok["rho"].mean()})
    return pd.DataFrame(rows)


FIT_COLUMNS = ["a", "k", "a_se", "k_se", "r2", "n_points", "n_zero", "degenerate"]
"""A fit row: the power law, the points it used, the points with y = 0 it could not use (counted, not
dropped), and whether it is degenerate (fewer than three sizes, or no variance: R² and SE undefined)."""

SEED_MEAN_COLUMNS = ["k_seed_mean", "k_seed_mean_se", "degenerate_seed_mean"]
"""The exponent fitted to the seed means of m′ at each N, its SE and whether that fit is degenerate."""


def _fit_rows(frame: pd.DataFrame, y: str) -> dict:
    """Power-law fit of ``y`` against N over the rows with y > 0; the rows with y = 0 are counted in
    ``n_zero``; fewer than two usable sizes give NaN and ``degenerate``."""
    usable = frame[frame[y] > 0]
    n_zero = int((frame[y] <= 0).sum())
    if usable["N"].nunique() < 2:
        return {"a": np.nan, "k": np.nan, "a_se": np.nan, "k_se": np.nan, "r2": np.nan, "n_points": len(usable),
                "n_zero": n_zero, "degenerate": True}
    fit = power_law_fit(usable["N"].to_numpy(), usable[y].to_numpy())
    return {"a": fit.a, "k": fit.k, "a_se": fit.a_se, "k_se": fit.k_se, "r2": fit.r2, "n_points": fit.n,
            "n_zero": n_zero, "degenerate": fit.degenerate}


def size_scaling(models: pd.DataFrame) -> pd.DataFrame:
    """Per α: the power law m′ = a·N^k fitted to every converged model (one point per model)."""
    ok = converged(models)
    return pd.DataFrame([{"alpha": alpha, **_fit_rows(group, "m_important")} for alpha, group in ok.groupby("alpha")],
                        columns=["alpha", *FIT_COLUMNS])


def _seed_mean_fit(per_model: pd.DataFrame) -> dict:
    """``_fit_rows`` of the mean m′ over the models at each N (models with m′ = 0 count in the mean)."""
    return _fit_rows(per_model.groupby("N", as_index=False)["m_important"].mean(), "m_important")


def seed_averaged_scaling(models: pd.DataFrame) -> pd.DataFrame:
    """Per α: m′ = a·N^k fitted to the mean m′ over the converged seeds of each N (models with m′ = 0 count
    in the mean), as the paper fits; ``models`` is the number of converged models behind the points."""
    ok = converged(models)
    rows = []
    for alpha, group in ok.groupby("alpha"):
        rows.append({"alpha": alpha, **_seed_mean_fit(group), "models": len(group)})
    return pd.DataFrame(rows, columns=["alpha", *FIT_COLUMNS, "models"])


def tau_sensitivity(models: pd.DataFrame, units: pd.DataFrame, taus: npt.ArrayLike = TAUS) -> pd.DataFrame:
    """Per (τ, α): mean m′/M and the exponent k, re-classifying the stored per-unit impacts: ``k``, ``k_se``, …
    fitted to every model, and ``k_seed_mean``, ``k_seed_mean_se``, ``degenerate_seed_mean`` fitted to the seed
    means of m′ at each N (m′ = 0 models counted in the mean), as the paper fits."""
    ok = converged(models)[["N", "alpha", "seed", "M"]]
    joined = units.merge(ok, on=["N", "alpha", "seed"])
    rows = []
    for tau in np.atleast_1d(taus):
        important = (joined["energy_impact"] > tau) | (joined["czz_impact"] > tau)
        per_model = joined.assign(important=important).groupby(["N", "alpha", "seed", "M"], as_index=False)["important"].sum()
        per_model = per_model.rename(columns={"important": "m_important"})
        per_model["frac"] = per_model["m_important"] / per_model["M"]
        for alpha, group in per_model.groupby("alpha"):
            averaged = _seed_mean_fit(group)
            rows.append({"tau": float(tau), "alpha": alpha, "frac_mean": group["frac"].mean(),
                         **_fit_rows(group, "m_important"), "k_seed_mean": averaged["k"], "k_seed_mean_se": averaged["k_se"],
                         "degenerate_seed_mean": averaged["degenerate"]})
    return pd.DataFrame(rows, columns=["tau", "alpha", "frac_mean", *FIT_COLUMNS, *SEED_MEAN_COLUMNS])


def sublinear_window(sensitivity: pd.DataFrame) -> pd.DataFrame:
    """Per α: the smallest and largest τ of the grid where k fitted to the seed means is below 1, over the τ
    whose fit is not degenerate (``taus_fitted`` of ``taus``); with none fitted the window is NaN and
    ``degenerate`` (fewer than three sizes, as a two-point line says nothing of sublinearity)."""
    rows = []
    for alpha, group in sensitivity.groupby("alpha"):
        fitted = group[~group["degenerate_seed_mean"].astype(bool)]
        below = fitted[fitted["k_seed_mean"] < 1]
        rows.append({"alpha": alpha, "tau_min": below["tau"].min() if len(below) else np.nan,
                     "tau_max": below["tau"].max() if len(below) else np.nan,
                     "taus_below": len(below), "taus_fitted": len(fitted), "taus": len(group),
                     "degenerate": fitted.empty})
    return pd.DataFrame(rows, columns=["alpha", "tau_min", "tau_max", "taus_below", "taus_fitted", "taus", "degenerate"])


def alpha_dependence(models: pd.DataFrame, n: int = 12) -> pd.DataFrame:
    """At ring size ``n``: mean m′/M, ρ and ε per α over converged models."""
    ok = converged(models)
    at_n = ok[ok["N"] == n]
    return at_n.groupby("alpha", as_index=False).agg(models=("seed", "size"), frac_mean=("frac_important", "mean"),
                                                       frac_std=("frac_important", "std"), rho_mean=("rho", "mean"),
                                                       eps_mean=("eps", "mean"))


def summarise(tables: dict[str, pd.DataFrame], taus: npt.ArrayLike = TAUS) -> dict[str, pd.DataFrame]:
    """Every aggregate of the study, by name (``by_size``, ``fits``, ``fits_seed_mean``, ``tau``, ``window``,
    ``alpha``, and from the exact checks of training ``anatomy`` per model, ``failures`` per (N, α), ``path``: the
    converged models' importance by whether they passed through the collapse, and ``criteria``: the stopping rule
    read off the sampled estimate, per averaging window, N and α)."""
    models = tables["models"]
    sensitivity = tau_sensitivity(models, tables["units"], taus)
    checks = tables.get("checks", pd.DataFrame())
    anatomy = failure_anatomy(models, checks)
    criteria = sampled_criteria(tables.get("history", pd.DataFrame()), checks)
    return {"by_size": fraction_by_size(models), "fits": size_scaling(models),
            "fits_seed_mean": seed_averaged_scaling(models), "tau": sensitivity,
            "window": sublinear_window(sensitivity), "alpha": alpha_dependence(models),
            "anatomy": anatomy, "failures": failure_summary(anatomy), "path": importance_by_path(models, anatomy),
            "criteria": criterion_summary(criteria)}


def write_study_outputs(out: Path | str, tables: dict[str, pd.DataFrame], meta: list[str],
                        config: dict | None = None) -> dict[str, pd.DataFrame]:
    """Write the aggregate tables (CSV, readable in a diff) and ``report.html`` into ``out``;
    ``config`` (the study configuration) is shown in the report as a table."""
    from pathlib import Path

    from physlens.report.hidden_units import study_report
    from physlens.runs import atomic_write_text

    summaries = summarise(tables)
    for name, frame in summaries.items():
        atomic_write_text(Path(out) / f"summary_{name}.csv", frame.to_csv(index=False, float_format="%.6g"))
    study_report(tables, summaries, meta, config).write(Path(out) / "report.html")
    atomic_write_text(Path(out) / "RESULTS.md", results_markdown(tables, summaries))
    return summaries


def results_markdown(tables: dict[str, pd.DataFrame], summaries: dict[str, pd.DataFrame]) -> str:
    """The study's headline figures as Markdown: models, k ± SE and R² per α, the τ window of k < 1."""
    models, timings = tables["models"], tables["timings"]
    counts = models.groupby("N").agg(models=("seed", "size"), converged=("converged", "sum"))
    lines = ["# Hidden-unit study: measured figures", "",
             f"{int(models['converged'].sum())} of {len(models)} stored models converged (ε < 1e-3, exact full-sum "
             "energy); non-converged ones are excluded. Every number below is an exact sum over the S^z = 0 basis.", "",
             "Models per ring size: " + ", ".join(f"N = {n}: {int(r.converged)}/{int(r.models)}" for n, r in counts.iterrows()),
             "", "Training mode per model is in `models.parquet` (`mode`: exact full-sum SR or sampled SR).", "",
             "## m′ = a·N^k at τ = 0.3, per α", "", "One point per converged model; a model with m′ = 0 has no logarithm "
             "and is counted apart; a degenerate fit (fewer than three sizes, or no variance) has no R² or SE.", "",
             "| α | k | SE(k) | R² | a | points | models with m′ = 0 | degenerate |", "|---|---|---|---|---|---|---|---|"]
    for _, f in summaries["fits"].iterrows():
        lines.append(f"| {int(f.alpha)} | {_num(f.k, '.3f')} | {_num(f.k_se, '.3f')} | {_num(f.r2, '.3f')} | "
                     f"{_num(f.a, '.3g')} | {int(f.n_points)} | {int(f.n_zero)} | {'yes' if f.degenerate else 'no'} |")
    lines += ["", "Fitted to the mean m′ over the converged seeds at each N (m′ = 0 models count in the mean), as the "
              "paper fits; a degenerate fit (fewer than three sizes, or no variance) has no R² or SE:", "",
              "| α | k | SE(k) | R² | a | sizes | models with m′ = 0 | degenerate |", "|---|---|---|---|---|---|---|---|"]
    for _, f in summaries["fits_seed_mean"].iterrows():
        lines.append(f"| {int(f.alpha)} | {_num(f.k, '.3f')} | {_num(f.k_se, '.3f')} | {_num(f.r2, '.3f')} | "
                     f"{_num(f.a, '.3g')} | {int(f.n_points)} | "
                     f"{int(summaries['fits'].set_index('alpha').loc[f.alpha, 'n_zero'])} | {'yes' if f.degenerate else 'no'} |")
    lines += ["", "## Fraction of important units m′/M (mean over converged seeds)", "",
              _markdown(summaries["by_size"].pivot(index="N", columns="alpha", values="frac_mean").round(4).reset_index()), "",
              "## τ window where k < 1 (τ grid 0.05 … 0.60)", "",
              "k fitted to the seed means at each τ; only τ with a non-degenerate fit (three sizes or more) count.", "",
              "| α | τ min | τ max | grid points with k < 1 |", "|---|---|---|---|"]
    for _, w in summaries["window"].iterrows():
        if w.degenerate:
            lines.append(f"| {int(w.alpha)} | – | – | degenerate: no τ has a fit over three sizes |")
        else:
            lines.append(f"| {int(w.alpha)} | {w.tau_min:.2f} | {w.tau_max:.2f} | {int(w.taus_below)} of "
                         f"{int(w.taus_fitted)} fitted ({int(w.taus)} on the grid) |")
    lines += ["", "## α dependence at N = 12", "", _markdown(summaries["alpha"].round(4)), "",
              "## How training ended (the exact checks of the stopping rule)", "",
              "Per (N, α): models converged; missed ε < 1e-3 with the final state *collapsed* onto configurations "
              "the Metropolis chains never visit (the run's own verdict); missed it otherwise (*stalled*); ended by "
              "an exception (*error*). Of the models whose exact checks are stored (`with_checks`; a run folder "
              "gone leaves none), `ever_collapsed` counts those with any check above 0 J, converged ones included; "
              "`summary_anatomy.csv` has every model.", "",
              _markdown(summaries["failures"]), "",
              "## Importance by the path to convergence", "",
              "Per (N, α): the converged models that never had an exact check above 0 J (*direct*), those that passed "
              "through the collapse before converging, and those whose checks are not stored; their m′/M at τ = 0.3 "
              "and ρ (`summary_path.csv`).", "",
              _markdown(summaries["path"]) if len(summaries["path"]) else "No converged models.", "",
              "## The same rule read off the sampled estimate", "",
              "Per averaging window (iterations over which NetKet's sampled ε is averaged), N and α: how many models "
              "a rule stopping at sampled ε < 1e-3 counts as converged, and of those how many were above 1e-3 by the "
              "exact energy at that moment and how many collapsed. Training stopped at the exact rule, so the "
              "sampled one is seen only up to there (`summary_criteria.csv`).", "",
              _markdown(summaries["criteria"]) if len(summaries["criteria"]) else "No exact checks stored.", "",
              "## Wall time", "", f"{len(timings)} models timed, {timings['seconds'].sum() / 3600:.2f} h in total "
              "(one worker; `bench/study_walltime.py` projects the full study).", ""]
    return "\n".join(lines)


def _num(value: float, spec: str) -> str:
    """``value`` formatted by ``spec``, or "–" where it is undefined (NaN)."""
    return "–" if np.isnan(value) else format(value, spec)


def _markdown(frame: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(_num(v, ".4g") if isinstance(v, float) else str(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])
