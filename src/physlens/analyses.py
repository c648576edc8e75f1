"""The analyses, reachable from the top level on an opened model (``physlens.open``).

Thin doors into the studies, so a user writes ``pl.units(m)`` instead of finding the
study module that composes it::

    m = pl.open("runs/ring8")
    analysis = pl.units(m, tau=0.3)                       # hidden units: pattern scores, ablation, importance
    pl.units_report(m, analysis)                          # runs/ring8/report.html
    study = pl.sae(m, pl.SAEStudyConfig(hook="Dense", k=4, d_sae=64))
    pl.steer(m, study.sae, "Dense", study.feature, np.linspace(0, 2, 9))
    pl.prune(pl.LotteryConfig.preset("tiny"), "runs/lottery-tiny")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.lens.lottery import LotteryResult
from physlens.lens.sae import SAE
from physlens.lens.steering import SteeringCurve
from physlens.lens.units import DEFAULT_TAU
from physlens.opening import Opened
from physlens.studies import hidden_units, lottery, sae_steering


def units(opened: Opened, tau: float = DEFAULT_TAU, hook: str | None = None,
          czz_range: tuple[int, ...] | None = None) -> hidden_units.ModelAnalysis:
    """Hidden-unit analysis by exact sums: S_AFM, ΔE(j) and ΔC_zz(j)(r) per unit (energies in the system's
    unit), retention, the important units at threshold ``tau`` and which test made each important.
    ``hook``: the units' site (default: the model's units from the registry); ``czz_range``: the r summed
    in the C_zz impact (default every r = 0 … N/2)."""
    return hidden_units.analyse(opened.system, opened.model, opened.variables, tau, hook, czz_range=czz_range)


def units_report(opened: Opened, analysis: hidden_units.ModelAnalysis, path: Path | str | None = None) -> Path:
    """The single-model HTML report of a hidden-unit analysis (default ``<run>/report.html`` for a run; a path
    is needed otherwise). A model opened from NetKet has no training history: the report then starts at the
    summary, and its configuration table records where the model came from."""
    from physlens.report.hidden_units import model_report

    run = opened.run
    if path is None and run is None:
        raise PhyslensError(f"{opened.source} is not a physlens run; give the report a path")
    name = run.path.name if run is not None else Path(opened.source).name
    meta = [f"{opened.origin} {name}: {opened.description}, {opened.n_parameters} parameters",
            f"exact E0 = {analysis.e0:.10f} {analysis.scan.unit} (Lanczos)"]
    if run is not None:
        meta.insert(1, f"status: {run.status['state']} after {run.status.get('step')} steps")
        meta.append("versions: " + ", ".join(f"{k} {v}" for k, v in run.versions.items()))
    config = run.config if run is not None else {k: v for k, v in opened.metadata().items() if k != "notes"}
    metrics = run.metrics() if run is not None else pd.DataFrame()
    page = model_report(f"Hidden units of {name}", meta + opened.notes, metrics, analysis,
                        hidden_units.pattern_table(analysis.weights_MN), config=config)
    return page.write(Path(path) if path is not None else run.path / "report.html")


def sae(opened: Opened, config: sae_steering.SAEStudyConfig = sae_steering.SAEStudyConfig()) -> sae_steering.SAEStudy:
    """Train a sparse autoencoder on the activations at ``config.hook``, match its features to the observables,
    and steer the best one (exact or sampled, as ``config.method`` says)."""
    return sae_steering.analyse(opened.system, opened.model, opened.variables, config)


def steer(opened: Opened, autoencoder: SAE, hook: str, feature: int, strengths: np.ndarray,
          **options: Any) -> SteeringCurve:
    """The steering curve of one SAE feature at ``hook``: energy (system unit) and observables against the
    strength (options as ``physlens.studies.sae_steering.steer``)."""
    return sae_steering.steer(opened.system, opened.model, opened.variables, autoencoder, hook, feature,
                              strengths, **options)


def prune(config: lottery.StudyConfig, out: Path | str) -> LotteryResult:
    """Lottery tickets: iterative magnitude pruning with rewinding and its controls, every level by exact
    sums, into the folder ``out`` (resumable)."""
    return lottery.run_study(config, out)
