"""Importance along training: the hidden-unit analysis at every kept parameter snapshot of a study's models.

A study trained with ``snapshot_every > 0`` keeps each model's parameters every few hundred
steps (``runs/<task>/snapshots``). ``along_training(out)`` analyses every snapshot of every
finished model by exact sums — energy, ε, the number of important units and by which test,
ρ, and the largest single-unit impacts — and stores one table per model in
``<out>/along/<task>.parquet`` (reused when present) and all of them in ``along.parquet``.
It tells whether importance is a property of the converged state or of the path to it.

    table = along_training("docs/studies/hidden-units-paper")
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from physlens.lens.interventions import Identity
from physlens.lens.units import DEFAULT_TAU, scan_units
from physlens.quantum.evaluators import exact_evaluator
from physlens.quantum.registry import entry_for
from physlens.quantum.train import load, snapshots
from physlens.runs import Run
from physlens.studies.bookkeeping import write_parquet


def analyse_snapshots(run: Run, tau: float = DEFAULT_TAU) -> pd.DataFrame:
    """One row per snapshot of ``run`` (loaded by ``physlens.quantum.train.load``): ``step``, the exact
    ``energy`` (in ``unit``) and ``eps``, ``m_important`` (and ``m_energy``/``m_correlation``: units the energy
    test, resp. the correlation test, alone would call important), ``frac_important``, ``rho``, and the largest
    single-unit ``max_energy_impact`` = max_j |ΔE_j|/|E| and ``max_czz_impact``, and the Born weight in the
    total-S^z = 0 sector ``weight_sz0`` (where the ground state lives), all exact sums; and the training's own
    Monte Carlo estimate ``energy_sampled`` at that step (NaN for full-sum training), far from ``energy`` when
    the Markov chains miss configurations that carry weight."""
    system, model = run.system, run.model
    hook = entry_for(model).units(model)[0]
    e0 = run.reference["energy"]
    sampled = run.metrics().set_index("step")["energy"] if run.config.get("mode") == "sampled" else pd.Series(dtype=float)
    rows = []
    for step, variables in snapshots(run):
        evaluator = exact_evaluator(system, model, variables)
        scan = scan_units(evaluator, hook, "czz")
        weight_S = evaluator.born_weights([Identity(hook)])[0]
        by_energy, by_correlation = scan.energy_impact_M > tau, scan.observable_impact_M > tau
        m = int((by_energy | by_correlation).sum())
        rows.append({"step": step, "energy": scan.energy_full, "unit": scan.unit,
                     "eps": abs(scan.energy_full - e0) / abs(e0), "M": scan.n_units, "m_important": m,
                     "m_energy": int(by_energy.sum()), "m_correlation": int(by_correlation.sum()),
                     "frac_important": m / scan.n_units, "rho": scan.rho, "tau": tau, "exact": scan.exact,
                     "max_energy_impact": float(scan.energy_impact_M.max()),
                     "max_czz_impact": float(scan.observable_impact_M.max()),
                     "energy_sampled": float(sampled.get(step, np.nan)),
                     "weight_sz0": float(weight_S[evaluator.sigma_SN.sum(axis=1) == 0].sum())})
    return pd.DataFrame(rows)


def along_training(out: str | Path, tau: float = DEFAULT_TAU) -> pd.DataFrame:
    """Analyse the snapshots of every model of the study in ``out`` whose result is stored (models still
    training are left for a later call), those that ended collapsed or diverged included — their snapshots are
    states like any other — but not those ended by an exception before a step; returns and writes
    ``along.parquet`` (columns of ``analyse_snapshots`` plus ``N``, ``alpha``, ``seed``, ``state``)."""
    out = Path(out)
    frames = []
    for result in sorted((out / "results").glob("*.parquet")):
        task = result.stem
        stored = out / "along" / f"{task}.parquet"
        if stored.exists():
            frames.append(pd.read_parquet(stored))
            continue
        row = pd.read_parquet(result).iloc[0]
        run_dir = out / "runs" / task
        if (row["state"] == "failed" and row["steps"] == 0) or not (run_dir / "snapshots").is_dir():
            continue
        frame = analyse_snapshots(load(run_dir), tau).assign(N=int(row["N"]), alpha=int(row["alpha"]),
                                                             seed=int(row["seed"]), state=row["state"])
        write_parquet(stored, frame)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(table):
        table = table.sort_values(["N", "alpha", "seed", "step"], kind="stable").reset_index(drop=True)
    write_parquet(out / "along.parquet", table)
    return table
