"""The exact convergence checks of a hidden-unit study's training, and why models miss ε < tol.

A run trained by sampling (the ``rbm-paper`` protocol) logs, every few dozen steps, the exact full-sum energy
of its current state (``energy_fullsum`` in ``metrics.jsonl``): the check of the stopping rule. Those checks
see what the Monte Carlo estimate cannot: amplitude the Metropolis chains never visit. On the Heisenberg ring
a check whose exact energy is above 0 J (ε > 1, since E₀ < 0) is counted as *collapsed*: the state is then
far from the antiferromagnetic ground state, and in the runs seen it sits on the fully polarised
configurations (E = +N/4 J, C_zz(r) = 1/4 at every r) while the chains report a good sampled energy.

    checks = exact_checks(run)                         # step, energy (J), eps, collapsed
    anatomy = failure_anatomy(models, checks_table)    # one row per model: how its training ended
    failure_summary(anatomy)                           # per (N, α): converged, collapsed, stalled
    importance_by_path(models, anatomy)                # per (N, α): converged models by whether they collapsed first
    importance_around_collapse(models, anatomy, along) # per model: m′/M before the collapse and at convergence
    criteria = sampled_criteria(history, checks_table)    # the rule read off the Monte Carlo estimate instead
    criterion_summary(criteria)                        # per (N, α): what that rule would have counted
    stops = importance_at_sampled_stop(criteria, along)  # the analysis where that rule would have stopped
    sampled_stop_summary(stops)                        # per (N, α): m′/M and ρ there
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from physlens.runs import Run

CHECK_COLUMNS = ["step", "energy", "eps", "collapsed"]
"""One exact check: the step, the full-sum energy (J), its relative error ε = |E − E₀|/|E₀|, whether E > 0."""

OUTCOMES = ("converged", "collapsed", "stalled", "error")
"""How a model's training ended: ε < tol; missed it with the final state collapsed (the run's own verdict,
``status.json``: the state on about one or two configurations; or its last exact check above 0 J, the rule the
checks use); missed it otherwise (stopped short of tol, or drifting away from it); an exception."""


def is_collapsed(energy: Any) -> Any:
    """Whether an exact energy (J, a number or an array) is that of a collapsed state: above 0 J (ε > 1)."""
    return energy > 0.0


def exact_checks(run: Run) -> pd.DataFrame:
    """The exact (full-sum) energy checks logged along ``run``'s training, shape (checks, 4): ``CHECK_COLUMNS``.

    ε uses the run's exact reference E₀ (``reference.json``); a check is collapsed when E > 0 (in the
    reference's unit). A run that logged no full-sum energy (trained on full sums throughout) gives an empty frame.
    """
    rows = [(r["step"], r["energy_fullsum"]) for r in run.metrics_rows() if r.get("energy_fullsum") is not None]
    if not rows:
        return pd.DataFrame(columns=CHECK_COLUMNS)
    e0 = run.reference["energy"]
    step, energy = (np.asarray(column) for column in zip(*rows))
    return pd.DataFrame({"step": step.astype(int), "energy": energy, "eps": np.abs(energy - e0) / abs(e0),
                         "collapsed": is_collapsed(energy)})


def outcome(model: Any, last_check_collapsed: bool = False) -> str:
    """How one model's training ended (``OUTCOMES``), from its row of the study's ``models`` table and whether
    its last exact check was collapsed (E > 0 J: a state spread over more configurations than the run's own
    verdict allows, yet far above the ground state)."""
    if model.converged:
        return "converged"
    if str(model.reason).startswith("collapsed"):
        return "collapsed"
    if model.state == "failed":
        return "error"
    return "collapsed" if last_check_collapsed else "stalled"


def failure_anatomy(models: pd.DataFrame, checks: pd.DataFrame) -> pd.DataFrame:
    """One row per model of ``models`` (N, α, seed): its outcome (``OUTCOMES``), and from its exact checks their
    number, the fraction collapsed, the first collapsed step, the best ε and its step, the last ε and its step
    (NaN where the checks are not stored: a run folder gone).

    ``checks``: the stacked ``exact_checks`` of the models, with columns N, α, seed beside ``CHECK_COLUMNS``.
    """
    keys = ["N", "alpha", "seed"]
    grouped = dict(iter(checks.groupby(keys))) if len(checks) else {}
    rows = []
    for model in models.itertuples(index=False):
        key = (model.N, model.alpha, model.seed)
        row = {**dict(zip(keys, key)), "converged": bool(model.converged), "outcome": outcome(model), "checks": 0}
        own = grouped.get(key)
        if own is not None and len(own):
            own = own.sort_values("step")
            row["outcome"] = outcome(model, bool(own["collapsed"].iloc[-1]))
            best = own.loc[own["eps"].idxmin()]
            collapsed = own.loc[own["collapsed"].astype(bool), "step"]
            row.update(checks=len(own), collapsed_fraction=own["collapsed"].mean(),
                       first_collapse_step=collapsed.min() if len(collapsed) else np.nan,
                       best_eps=best["eps"], best_step=int(best["step"]), last_eps=own["eps"].iloc[-1],
                       last_step=int(own["step"].iloc[-1]))
        rows.append(row)
    columns = ["collapsed_fraction", "first_collapse_step", "best_eps", "best_step", "last_eps", "last_step"]
    return pd.DataFrame(rows).reindex(columns=[*keys, "converged", "outcome", "checks", *columns])


def failure_summary(anatomy: pd.DataFrame) -> pd.DataFrame:
    """Per (N, α): models, how many ended in each outcome, how many have stored checks and how many of those
    ever collapsed, the fraction of their checks that were collapsed (mean over models), the median step of
    the first collapse, and the median best exact ε of the models that missed tol (over those with checks)."""
    rows = []
    for (n, alpha), group in anatomy.groupby(["N", "alpha"]):
        missed = group[~group["converged"] & (group["checks"] > 0)]
        ever = group["first_collapse_step"].notna()
        rows.append({"N": n, "alpha": alpha, "models": len(group),
                     **{name: int((group["outcome"] == name).sum()) for name in OUTCOMES},
                     "with_checks": int((group["checks"] > 0).sum()), "ever_collapsed": int(ever.sum()),
                     "checks_collapsed": group["collapsed_fraction"].mean(),
                     "first_collapse_median": group.loc[ever, "first_collapse_step"].median() if ever.any() else np.nan,
                     "missed_best_eps_median": missed["best_eps"].median() if len(missed) else np.nan})
    return pd.DataFrame(rows)


PATHS = ("direct", "through the collapse", "not recorded")
"""How a converged model reached ε < tol: no exact check above 0 J; at least one check above 0 J before it
converged; its checks not stored (trained before they were logged, or its run folder gone)."""


def importance_by_path(models: pd.DataFrame, anatomy: pd.DataFrame) -> pd.DataFrame:
    """Per (N, α, path) of the converged models of ``models``: their number, how many have m′ = 0, and the mean
    and median m′/M and the mean ρ (NaN where undefined). ``path`` is one of ``PATHS``, read off ``anatomy``
    (``failure_anatomy``): whether training passed through the collapse before converging.

    The importance of a converged state may depend on the path to it; at equal N and α this sets the models
    that came out of the collapse beside those that never entered it (issue 14, item 4).
    """
    keys = ["N", "alpha", "seed"]
    columns = ["N", "alpha", "path", "models", "m_zero", "frac_mean", "frac_median", "rho_mean"]
    ok = models[models["converged"].astype(bool)]
    if ok.empty:
        return pd.DataFrame(columns=columns)
    rows = ok.merge(anatomy[[*keys, "checks", "first_collapse_step"]], on=keys, how="left")
    recorded = rows["checks"].fillna(0) > 0
    path = np.where(~recorded, PATHS[2], np.where(rows["first_collapse_step"].notna(), PATHS[1], PATHS[0]))
    rows["path"] = pd.Categorical(path, categories=PATHS, ordered=True)
    out = rows.groupby(["N", "alpha", "path"], as_index=False, observed=True).agg(
        models=("seed", "size"), m_zero=("m_important", lambda m: int((m == 0).sum())),
        frac_mean=("frac_important", "mean"), frac_median=("frac_important", "median"), rho_mean=("rho", "mean"))
    return out.assign(path=out["path"].astype(str))[columns]


def importance_around_collapse(models: pd.DataFrame, anatomy: pd.DataFrame, along: pd.DataFrame) -> pd.DataFrame:
    """Per converged model of ``models`` that passed through the collapse (a first collapsed check in ``anatomy``)
    and whose parameter snapshots were analysed (``along``: ``hidden_units_training.along_training``): the last
    snapshot before its first collapsed check — ``before_step``, its exact ``before_eps``, ``before_frac`` (m′/M)
    and ``before_rho`` — beside the converged model's ``steps``, ``eps``, ``frac_important`` and ``rho``.

    Model by model, whether the state came out of the collapse with fewer important units than it went in with
    (issue 14, item 4). A model with no snapshot before its first collapse is left out.
    """
    keys = ["N", "alpha", "seed"]
    columns = [*keys, "first_collapse_step", "before_step", "before_eps", "before_frac", "before_rho", "steps", "eps",
               "frac_important", "rho"]
    if along.empty or anatomy.empty:
        return pd.DataFrame(columns=columns)
    first = anatomy.set_index(keys)["first_collapse_step"]
    snapshots = {key: own.sort_values("step") for key, own in along.groupby(keys)}
    rows = []
    for m in models[models["converged"].astype(bool)].itertuples(index=False):
        key = (m.N, m.alpha, m.seed)
        step = first.get(key, np.nan)
        own = snapshots.get(key)
        before = own[own["step"] < step] if own is not None and not np.isnan(step) else None
        if before is None or before.empty:
            continue
        s = before.iloc[-1]
        rows.append({**dict(zip(keys, key)), "first_collapse_step": int(step), "before_step": int(s["step"]),
                     "before_eps": float(s["eps"]), "before_frac": float(s["frac_important"]),
                     "before_rho": float(s["rho"]), "steps": int(m.steps), "eps": float(m.eps),
                     "frac_important": float(m.frac_important), "rho": float(m.rho)})
    return pd.DataFrame(rows, columns=columns)


CRITERION_WINDOWS = (1, 50, 200)
"""Iterations over which the sampled ε is averaged in ``sampled_criterion``: one iteration's estimate (what a loop
over NetKet's log that stops at the first ε < tol does), and two running means."""


def sampled_criterion(history: pd.DataFrame, checks: pd.DataFrame, tol: float = 1e-3, window: int = 1) -> pd.DataFrame:
    """The stopping rule read off the Monte Carlo estimate instead of the exact energy, per model.

    The paper states its criterion, ε < tol, not how ε was measured; NetKet's log gives the sampled estimate of
    every iteration. Per model (N, α, seed) with exact checks: ``sampled_step``, the first step at which the mean
    of the sampled ε over the last ``window`` iterations (``history``) is below ``tol`` (NaN: not before training
    stopped — a model stops at the exact rule, so the sampled rule is seen only up to there); ``exact_eps_then``
    and ``collapsed_then``, the exact check nearest that step (the earlier on a tie); ``exact_step``, the first
    check with exact ε < ``tol`` (NaN: none); and ``window``.

    ``history``: per-step ``step`` and sampled ``eps`` with N, α, seed; ``checks``: ``CHECK_COLUMNS`` with N, α, seed.
    """
    keys = ["N", "alpha", "seed"]
    columns = [*keys, "window", "sampled_step", "exact_eps_then", "collapsed_then", "exact_step"]
    if not len(checks):
        return pd.DataFrame(columns=columns)
    runs = dict(iter(history.groupby(keys)))
    rows = []
    for key, own in checks.groupby(keys):
        own = own.sort_values("step")
        below = own.loc[own["eps"] < tol, "step"]
        row = {**dict(zip(keys, key)), "window": window, "sampled_step": np.nan, "exact_eps_then": np.nan,
               "collapsed_then": None, "exact_step": below.min() if len(below) else np.nan}
        steps = runs[key].sort_values("step") if key in runs else history.iloc[:0]
        hits = steps.loc[steps["eps"].rolling(window).mean().to_numpy() < tol, "step"]
        if len(hits):
            step = int(hits.min())
            nearest = _nearest(own, step)
            row.update(sampled_step=step, exact_eps_then=float(nearest["eps"]), collapsed_then=bool(nearest["collapsed"]))
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def sampled_criteria(history: pd.DataFrame, checks: pd.DataFrame, tol: float = 1e-3) -> pd.DataFrame:
    """``sampled_criterion`` for every window of ``CRITERION_WINDOWS``, in one table (told apart by ``window``)."""
    return pd.concat([sampled_criterion(history, checks, tol, window=w) for w in CRITERION_WINDOWS], ignore_index=True)


def _nearest(rows: pd.DataFrame, step: float) -> pd.Series:
    """The row of ``rows`` (sorted by ``step``) whose step is nearest ``step``, the earlier on a tie."""
    return rows.iloc[int(np.argmin(np.abs(rows["step"].to_numpy() - step)))]


def criterion_summary(criteria: pd.DataFrame, tol: float = 1e-3) -> pd.DataFrame:
    """Per (window, N, α): models with checks; how many the exact rule and the sampled rule count as converged; of
    the sampled rule's, how many were above ``tol`` by the exact energy at that moment, how many collapsed, and
    their median exact ε then."""
    rows = []
    for (window, n, alpha), group in criteria.groupby(["window", "N", "alpha"]):
        sampled = group[group["sampled_step"].notna()]
        rows.append({"window": window, "N": n, "alpha": alpha, "models": len(group),
                     "converged_exact": int(group["exact_step"].notna().sum()), "converged_sampled": len(sampled),
                     "sampled_but_exact_above_tol": int((sampled["exact_eps_then"] >= tol).sum()),
                     "sampled_but_collapsed": int(sampled["collapsed_then"].astype(bool).sum()),
                     "exact_eps_then_median": sampled["exact_eps_then"].median() if len(sampled) else np.nan})
    return pd.DataFrame(rows)


def importance_at_sampled_stop(criteria: pd.DataFrame, along: pd.DataFrame) -> pd.DataFrame:
    """The hidden-unit analysis where the sampled rule would have stopped training, per model.

    For each model of ``criteria`` (``sampled_criterion``, any windows) whose sampled rule fired and whose
    parameter snapshots were analysed (``along``: ``hidden_units_training.along_training``), the snapshot nearest
    ``sampled_step`` (the earlier on a tie): ``snapshot_step``, its exact ``eps``, ``collapsed`` (its exact
    energy above 0 J, as for a check), ``frac_important``, ``rho`` and ``max_energy_impact``. What a study
    stopping at the sampled rule would have analysed, to within half the snapshot spacing.
    """
    keys = ["N", "alpha", "seed"]
    columns = [*keys, "window", "sampled_step", "snapshot_step", "eps", "collapsed", "frac_important", "rho",
               "max_energy_impact"]
    if criteria.empty or along.empty:
        return pd.DataFrame(columns=columns)
    snapshots = {key: own.sort_values("step") for key, own in along.groupby(keys)}
    rows = []
    for r in criteria[criteria["sampled_step"].notna()].itertuples(index=False):
        own = snapshots.get((r.N, r.alpha, r.seed))
        if own is None:
            continue
        s = _nearest(own, r.sampled_step)
        rows.append({"N": r.N, "alpha": r.alpha, "seed": r.seed, "window": r.window, "sampled_step": r.sampled_step,
                     "snapshot_step": int(s["step"]), "eps": float(s["eps"]), "collapsed": bool(is_collapsed(s["energy"])),
                     "frac_important": float(s["frac_important"]), "rho": float(s["rho"]),
                     "max_energy_impact": float(s["max_energy_impact"])})
    return pd.DataFrame(rows, columns=columns)


def sampled_stop_summary(stops: pd.DataFrame) -> pd.DataFrame:
    """Per (window, N, α) of ``importance_at_sampled_stop``: the models, how many of their snapshots were
    collapsed, the median distance |snapshot step − sampled step|, and over the snapshots not collapsed the
    median exact ε, m′/M (mean and sd) and the mean ρ."""
    columns = ["window", "N", "alpha", "models", "collapsed", "step_offset_median", "eps_median", "frac_mean",
               "frac_std", "rho_mean"]
    rows = []
    for (window, n, alpha), group in stops.groupby(["window", "N", "alpha"]):
        kept = group[~group["collapsed"].astype(bool)]
        rows.append({"window": window, "N": n, "alpha": alpha, "models": len(group),
                     "collapsed": int(group["collapsed"].astype(bool).sum()),
                     "step_offset_median": (group["snapshot_step"] - group["sampled_step"]).abs().median(),
                     "eps_median": kept["eps"].median(), "frac_mean": kept["frac_important"].mean(),
                     "frac_std": kept["frac_important"].std(), "rho_mean": kept["rho"].mean()})
    return pd.DataFrame(rows, columns=columns)
