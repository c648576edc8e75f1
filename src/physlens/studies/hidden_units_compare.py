"""Two hidden-unit studies trained under different protocols, set side by side with the paper's numbers.

``compare({"physlens-sr": "docs/studies/hidden-units", "rbm-paper": "docs/studies/hidden-units-paper"})``
reads each study's stored tables (never retrains) and returns, per protocol:

- ``models``: every model with its protocol, the largest single-unit |ΔE|/|E| and the median and
  largest hidden-unit weight norm ‖W_j‖₂ (from the unit table, or from the run folders where the
  unit table predates the column);
- ``by_alpha``: per (protocol, N, α): models, converged, m′/M and ρ (mean ± sd over converged
  seeds), median ε, median largest impact, median weight norm, and the energy recovered by the
  important units alone and by the rest alone (mean E_important/E and E_rest/E); with the paper's
  values where it gives them;
- ``fits``: m′ = a·N^k fitted to seed averages, per (protocol, α), beside the paper's k;
- ``window``: the τ range where k < 1, per protocol;

and ``write_comparison`` adds ``along`` (importance along training, from every study that kept parameter
snapshots) and ``sampled_stop``: per (protocol, window, N, α), m′/M and ρ at the snapshot nearest the step where
the stopping rule read off the sampled estimate would have stopped (``hidden_units_checks``), beside the paper's;
and ``collapse_passage``: per converged model that passed through the collapse, m′/M and ρ at the last snapshot
before it and at convergence.

    tables = compare(studies); write_comparison("docs/studies/hidden-units-compare", tables)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.quantum.registry import entry_for
from physlens.quantum.train import load
from physlens.studies.bookkeeping import record_settings
from physlens.studies.hidden_units import model_name
from physlens.studies.hidden_units_checks import (failure_anatomy, importance_around_collapse,
                                                  importance_at_sampled_stop, is_collapsed, sampled_criteria,
                                                  sampled_stop_summary)
from physlens.studies.hidden_units_summary import converged, seed_averaged_scaling, sublinear_window, tau_sensitivity

KIND = "hidden-units comparison"

PAPER_FRACTION_N12 = {2: 0.53, 5: 0.73}
"""m′/M at N = 12 for α = 2 and 5 (arXiv 2603.24223, as quoted in physlens issue 14)."""
PAPER_RHO_N12 = {4: (0.34, 0.14), 5: (0.13, 0.26)}
"""ρ (mean ± sd) at N = 12: its peak at α = 4 and α = 5 (same source)."""
PAPER_K = {2: (0.46, 0.21), 3: (0.41, 0.18), 4: (0.47, 0.11), 5: (0.37, 0.18)}
"""k ± SE of m′ = a·N^k fitted to seed-averaged m′ over N = 8 … 20 (same source; R² 0.47–0.78)."""


def _paper_fraction(n: int, alpha: int) -> float:
    """The paper's m′/M at ring size ``n`` and density ``alpha`` (NaN where it gives none)."""
    return PAPER_FRACTION_N12.get(alpha, np.nan) if n == 12 else np.nan


def _weight_norms(out: Path, models: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    """Per model: median and largest ‖W_j‖₂; from ``units`` when it has ``weight_norm``, else from the run folders."""
    keys = ["N", "alpha", "seed"]
    if "weight_norm" in units and units["weight_norm"].notna().all():
        return units.groupby(keys, as_index=False)["weight_norm"].agg(norm_median="median", norm_max="max")
    rows = []
    for m in models.itertuples():
        run_dir = out / "runs" / model_name(m.N, m.alpha, m.seed)
        if not (run_dir / "params.msgpack").exists():
            continue
        run = load(run_dir)
        norms_M = np.linalg.norm(np.real(entry_for(run.model).units(run.model)[1](run.variables)), axis=1)
        rows.append({"N": m.N, "alpha": m.alpha, "seed": m.seed, "norm_median": float(np.median(norms_M)),
                     "norm_max": float(norms_M.max())})
    return pd.DataFrame(rows, columns=[*keys, "norm_median", "norm_max"])


def study_models(out: str | Path, protocol: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``models`` table of one study with its protocol, largest single-unit impact and weight norms; and its units."""
    out = Path(out)
    if not (out / "models.parquet").exists():
        raise PhyslensError(f"{out} holds no collected hidden-unit study (models.parquet); run the study first")
    models, units = pd.read_parquet(out / "models.parquet"), pd.read_parquet(out / "units.parquet")
    keys = ["N", "alpha", "seed"]
    impact = units.groupby(keys, as_index=False)["energy_impact"].max().rename(columns={"energy_impact": "max_energy_impact"})
    models = models.merge(impact, on=keys, how="left").merge(_weight_norms(out, models, units), on=keys, how="left")
    return models.assign(protocol=protocol), units


def _by_alpha(models: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (protocol, n, alpha), group in models.groupby(["protocol", "N", "alpha"], sort=True):
        ok = converged(group)
        paper_rho = PAPER_RHO_N12.get(alpha) if n == 12 else None
        rows.append({"protocol": protocol, "N": n, "alpha": alpha, "models": len(group), "converged": len(ok),
                     "frac_mean": ok["frac_important"].mean(), "frac_std": ok["frac_important"].std(),
                     "paper_frac": _paper_fraction(n, alpha),
                     "rho_mean": ok["rho"].mean(), "rho_std": ok["rho"].std(),
                     "paper_rho": paper_rho[0] if paper_rho else np.nan,
                     "eps_median": ok["eps"].median(), "max_impact_median": ok["max_energy_impact"].median(),
                     "norm_median": ok["norm_median"].median(), "steps_median": ok["steps"].median(),
                     "recovered_important": (ok["energy_important"] / ok["energy"]).mean(),
                     "recovered_rest": (ok["energy_rest"] / ok["energy"]).mean()})
    return pd.DataFrame(rows)


def compare(studies: dict[str, str | Path]) -> dict[str, pd.DataFrame]:
    """Side-by-side tables of the studies ``{protocol: folder}`` (see the module docstring)."""
    loaded = {p: study_models(out, p) for p, out in studies.items()}
    models = pd.concat([m for m, _ in loaded.values()], ignore_index=True)
    fits, windows = [], []
    for protocol, (m, units) in loaded.items():
        fit = seed_averaged_scaling(m).assign(protocol=protocol)
        fit["paper_k"] = fit["alpha"].map(lambda a: PAPER_K.get(a, (np.nan,))[0])
        fits.append(fit)
        windows.append(sublinear_window(tau_sensitivity(m, units)).assign(protocol=protocol))
    return {"models": models, "by_alpha": _by_alpha(models), "fits": pd.concat(fits, ignore_index=True),
            "window": pd.concat(windows, ignore_index=True)}


def sampled_stops(out: str | Path, along: pd.DataFrame) -> pd.DataFrame:
    """``sampled_stop_summary`` of the study in ``out`` (its stored exact checks and sampled history) at its
    analysed snapshots ``along``, for every window of ``hidden_units_checks.CRITERION_WINDOWS``; with the
    paper's m′/M where it gives one. Empty when the study stored no checks (full-sum training) or kept no
    snapshots."""
    out = Path(out)
    if along.empty or not (out / "checks.parquet").exists() or not (out / "history.parquet").exists():
        return pd.DataFrame()
    history, checks = pd.read_parquet(out / "history.parquet"), pd.read_parquet(out / "checks.parquet")
    summary = sampled_stop_summary(importance_at_sampled_stop(sampled_criteria(history, checks), along))
    return summary.assign(paper_frac=[_paper_fraction(n, a) for n, a in zip(summary["N"], summary["alpha"])])


def collapse_passages(out: str | Path, along: pd.DataFrame) -> pd.DataFrame:
    """``importance_around_collapse`` of the study in ``out`` (its models and stored exact checks) at its analysed
    snapshots ``along``; empty when the study stored no checks or kept no snapshots."""
    out = Path(out)
    if along.empty or not (out / "checks.parquet").exists():
        return pd.DataFrame()
    models, checks = pd.read_parquet(out / "models.parquet"), pd.read_parquet(out / "checks.parquet")
    return importance_around_collapse(models, failure_anatomy(models, checks), along)


def _per_study(table: Callable[[str | Path, pd.DataFrame], pd.DataFrame], studies: dict[str, str | Path],
               along: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """``table(folder, snapshots)`` for every study that kept snapshots, tagged with its protocol and stacked;
    studies whose table is empty are left out (an empty frame when all are)."""
    frames = [table(studies[p], frame).assign(protocol=p) for p, frame in along.items()]
    frames = [frame for frame in frames if len(frame)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_comparison(out: str | Path, studies: dict[str, str | Path]) -> dict[str, pd.DataFrame]:
    """``compare`` the studies, add importance along training (from every study that kept snapshots), and write
    the tables (CSV) and ``report.html`` into ``out``."""
    from physlens.quantum.protocols import PROTOCOLS
    from physlens.report.hidden_units_compare import comparison_report
    from physlens.runs import atomic_write_text
    from physlens.studies.hidden_units_training import along_training

    out = Path(out)
    record_settings(out, KIND, {"studies": {p: str(folder) for p, folder in studies.items()}})
    tables = compare(studies)
    along = {p: along_training(folder).assign(protocol=p) for p, folder in studies.items()
             if any(Path(folder).glob("runs/*/snapshots"))}
    tables["along"] = pd.concat(along.values(), ignore_index=True) if along else pd.DataFrame()
    if len(tables["along"]):
        tables["along"]["collapsed"] = is_collapsed(tables["along"]["energy"])
    tables["sampled_stop"] = _per_study(sampled_stops, studies, along)
    tables["collapse_passage"] = _per_study(collapse_passages, studies, along)
    for name, frame in tables.items():
        atomic_write_text(out / f"{name}.csv", frame.to_csv(index=False, float_format="%.6g"))
    protocols = pd.DataFrame([{"protocol": p, "study": Path(folder).name,
                               "settings": PROTOCOLS[p].summary if p in PROTOCOLS else "",
                               "source": PROTOCOLS[p].source if p in PROTOCOLS else ""} for p, folder in studies.items()])
    meta = ["every number an exact sum over each model's basis; energies in J (H = J Σ S_i·S_{i+1}, spin-1/2)"]
    comparison_report(tables, tables["along"], protocols, meta, tables["sampled_stop"]).write(out / "report.html")
    return tables
