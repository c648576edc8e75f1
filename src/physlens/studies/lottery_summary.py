"""Read a finished lottery-ticket study back and answer its questions from the saved levels.

``summarize(out)`` loads the finished levels (``levels/level_RR/level.json``, so an
unfinished study can be read too), masks and parameters of a study folder
(``physlens.studies.lottery.run_study``) and computes, without retraining:

- per level and arm: median, min and max relative error over seeds;
- the piecewise power-law fit of the IMP curve and the transition (error jump, seed branches);
- the claims: the sparsest IMP level within 2× of the dense error, whether T(θ_init, m_IMP)
  and T(θ_rand, m_IMP) agree (median errors within a factor 2 at every level), and the
  density at which T(θ_init, m_rand) first leaves 2× of dense while IMP does not;
- the filters of a sparse IMP ticket of the first seed (extent; stars and plaquettes for the toric code);
- the interaction terms (bonds, the toric code's plaquettes) every IMP ticket spans, and whether each seed's error
  steps where one is lost (``physlens.studies.lottery_terms``);
- the exact magnetisations and fidelities of every network (``physlens.studies.lottery_observables``);
- the climbs back up by regrowing weights, with a hysteresis claim each (``physlens.studies.lottery_regrowth``).

Usage::

    summary = summarize("runs/lottery-tfim")
    summary.curve, summary.claims, summary.fit.exponents
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.lens.lottery import ISOLATED, level_mask
from physlens.lens.piecewise import RESOLVED_SEMS, Transition, detect_transition, piecewise_power_law
from physlens.quantum.filters import stabiliser_overlap, unit_filters
from physlens.quantum.systems import ToricCode, make_system
from physlens.report.lottery import LotterySummary
from physlens.studies.lottery import saved_levels
from physlens.studies.lottery_terms import first_layer_path, term_claim, term_table
from physlens.studies.lottery_observables import measure
from physlens.studies.lottery_regrowth import HYSTERESIS_FACTOR, hysteresis

AGREE_FACTOR = 2.0
"""Two arms agree at a level when their median errors are within this factor."""


def _curve(levels: pd.DataFrame) -> pd.DataFrame:
    """Median, best and worst relative error per (level, arm); with ``rel_sem``, the median statistical error of
    a Monte Carlo error, when the levels carry one."""
    grouped = levels.groupby(["level", "arm"])
    sampled = {"rel_sem": ("rel_sem", "median")} if "rel_sem" in levels else {}
    return grouped.agg(density=("density", "first"), median=("rel_error", "median"), low=("rel_error", "min"),
                       high=("rel_error", "max"), seeds=("seed", "count"), **sampled).reset_index()


def _finished_controls(levels: pd.DataFrame) -> tuple[pd.DataFrame, list[int]]:
    """``levels`` without the isolated controls of any level where some control lacks a seed (a study stopped
    mid-level keeps its finished networks, ``run_lottery(one_by_one=True)``), so the claims compare arms over the
    same seeds; the IMP and iterative-random-pruning rows are all kept. Also the levels left out, in order."""
    seeds = set(levels.seed)
    isolated = levels[levels.arm.isin(ISOLATED)]
    partial = sorted({int(level) for (level, _), rows in isolated.groupby(["level", "arm"]) if set(rows.seed) != seeds})
    return levels[~(levels.arm.isin(ISOLATED) & levels.level.isin(partial))], partial


def _transition(levels: pd.DataFrame, curve: pd.DataFrame) -> Transition | None:
    """The IMP curve's largest jump and seed branches; for Monte Carlo errors only between neighbouring levels
    resolved from zero (``RESOLVED_SEMS``). None when no two neighbouring levels qualify."""
    imp_LS = levels[levels.arm == "imp"].pivot(index="level", columns="seed", values="rel_error")
    imp = curve[curve.arm == "imp"].set_index("level").loc[imp_LS.index]
    resolved_L = (imp["median"] > RESOLVED_SEMS * imp.rel_sem).to_numpy() if "rel_sem" in imp else np.ones(len(imp), bool)
    if not (resolved_L[:-1] & resolved_L[1:]).any():
        return None
    return detect_transition(imp.density.to_numpy(), imp_LS.to_numpy(), resolved_L=resolved_L)


def _listing(levels: pd.DataFrame, shown: int = 6) -> str:
    """'density: median error' of the first ``shown`` levels (densest first) and of the last, for a claim's detail."""
    pairs = [f"{d:.3f}: {e:.2e}" for d, e in zip(levels.density, levels["median"])]
    return ", ".join(pairs if len(pairs) <= shown + 1 else pairs[:shown] + ["…", pairs[-1]])


def _claims(curve: pd.DataFrame, dense: float, unfinished: Sequence[int] = ()) -> pd.DataFrame:
    """The study's questions answered from ``curve`` (``_curve``); ``unfinished``: levels whose isolated controls were
    left out of ``curve`` (``_finished_controls``), named in the controls' answers."""
    imp = curve[curve.arm == "imp"].set_index("level")
    left_out = (f"; the controls of level{'s' if len(unfinished) > 1 else ''} {', '.join(map(str, unfinished))} left "
                "out (not finished for every seed)") if len(unfinished) else ""
    rows = []
    good = imp[(imp.density <= 0.10 + 1e-12) & (imp["median"] <= 2 * dense)]
    rows.append({"question": "IMP ticket with <= 10% weights within 2x of the dense error (median over seeds)",
                 "answer": "yes" if len(good) else "no",
                 "detail": (f"sparsest such level: density {good.density.min():.4f}, median error "
                            f"{good.loc[good.density.idxmin(), 'median']:.3e} vs dense {dense:.3e}") if len(good)
                 else f"dense {dense:.3e}; IMP medians at <= 10%: " + (_listing(imp[imp.density <= 0.1])
                                                                      or "no level pruned that far")})
    other = curve[curve.arm == "reinit"].set_index("level")
    same_mask = curve[curve.arm == "init_imp"].set_index("level")
    base, name = (same_mask, "init_imp") if len(same_mask) else (imp, "imp")
    if len(other):
        ratio = other["median"] / base.loc[other.index, "median"]
        rows.append({"question": "T(theta_init, m_IMP) and T(theta_rand, m_IMP) agree (within 2x at every level)",
                     "answer": "yes" if np.all(ratio.between(1 / AGREE_FACTOR, AGREE_FACTOR)) else "no",
                     "detail": f"ratio of the median errors reinit/{name} per level (remaining fraction: ratio): "
                               + ", ".join(f"{d:.3f}: {r:.2f}" for d, r in zip(other.density, ratio)) + left_out})
    rand = curve[curve.arm == "random_mask"].set_index("level")
    if len(rand):
        fail = rand[(rand["median"] > 2 * dense) & (imp.loc[rand.index, "median"] <= 2 * dense)]
        rows.append({"question": "T(theta_init, m_rand) leaves 2x of dense at a density where IMP does not",
                     "answer": "yes" if len(fail) else "no",
                     "detail": (f"highest such density {fail.density.max():.4f}" if len(fail) else
                                "random_mask medians: " + ", ".join(f"{d:.3f}: {e:.2e}" for d, e in zip(rand.density, rand["median"])))
                     + left_out})
    irp = curve[curve.arm == "random_prune"].set_index("level")
    if len(irp):
        rows.append(_random_pruning_claim(imp, irp, dense))
    return pd.DataFrame(rows)


def _random_pruning_claim(imp: pd.DataFrame, irp: pd.DataFrame, dense: float) -> dict:
    """Whether iterative random pruning (``irp``, its median per level) leaves 2× of the dense error at a level
    where IMP (``imp``) is still within it; "not measured" while every trained level of ``irp`` is within it."""
    question = "Iterative random pruning leaves 2x of dense at a density where IMP does not"
    out = irp[irp["median"] > 2 * dense]
    if not len(out):
        return {"question": question, "answer": "not measured",
                "detail": f"within 2x of dense ({dense:.3e}) at every level trained so far, down to density "
                          f"{irp.density.min():.4f}"}
    level = int(out.index.min())
    imp_error = imp.loc[level, "median"]
    imp_out = imp[imp["median"] > 2 * dense]
    imp_first = f"density {imp_out.density.max():.4f}" if len(imp_out) else "no level"
    return {"question": question, "answer": "yes" if imp_error <= 2 * dense else "no",
            "detail": (f"random pruning first leaves it at density {irp.density[level]:.4f} (median "
                       f"{irp['median'][level]:.3e} vs dense {dense:.3e}), where IMP is at {imp_error:.3e} "
                       f"({imp_error / dense:.2f}x); IMP first leaves it at {imp_first}")}


JUMP_FACTOR, MIN_JUMP_SHARE = 3.0, 0.25
"""The order parameter jumps when its largest change between neighbouring IMP levels is at least ``MIN_JUMP_SHARE``
of its whole change from the dense network to the sparsest level and ``JUMP_FACTOR`` times its second largest change
(physlens's criterion; a continuous change spreads over several levels). Relative, because the whole change is small
on small lattices: on the 4×4 TFIM at h/J = 3.04438 the ground state has ⟨|m_z|⟩ = 0.303 and the product state |+…+⟩
that the emptied network reaches has 0.196."""


def _jump_claim(observables: pd.DataFrame) -> dict:
    """Where the IMP median of ⟨|m_z|⟩ changes most between neighbouring levels, whether that change stands out, and
    the largest signed ⟨m_z⟩ (a network that breaks the Z₂ symmetry of the Hamiltonian)."""
    imp = observables[observables.arm == "imp"].groupby("level").agg(rho=("rho", "first"), order=("abs_m_z", "median"),
                                                                    m_x=("m_x", "median"), m_z=("m_z", "median"))
    steps = imp.order.diff().abs().iloc[1:]
    question = (f"The order parameter <|m_z|> jumps (largest change between neighbouring IMP levels >= "
                f"{MIN_JUMP_SHARE:.0%} of its whole change and > {JUMP_FACTOR:g}x the next)")
    if len(steps) < 2:
        return {"question": question, "answer": "not measured", "detail": "fewer than three IMP levels"}
    ordered = steps.sort_values(ascending=False)
    level = int(ordered.index[0])
    whole = abs(imp.order.iloc[-1] - imp.order.iloc[0])
    share = ordered.iloc[0] / whole if whole > 0 else 0.0
    jump = share >= MIN_JUMP_SHARE and ordered.iloc[0] > JUMP_FACTOR * ordered.iloc[1]
    broken = int(imp.m_z.abs().idxmax())
    return {"question": question, "answer": "yes" if jump else "no",
            "detail": (f"largest change {ordered.iloc[0]:.3f} ({share:.0%} of the whole {whole:.3f}) between rho "
                       f"{imp.rho[level - 1]:.3g} and {imp.rho[level]:.3g} (<|m_z|> {imp.order[level - 1]:.3f} -> "
                       f"{imp.order[level]:.3f}, <m_x> {imp.m_x[level - 1]:.3f} -> {imp.m_x[level]:.3f}); next largest "
                       f"{ordered.iloc[1]:.3f}; largest signed <m_z> {imp.m_z[broken]:+.3f} at rho {imp.rho[broken]:.3g}")}


def _filter_level(curve: pd.DataFrame) -> int:
    """The sparsest IMP level whose median error is below the geometric mean of the best and worst IMP medians."""
    imp = curve[curve.arm == "imp"]
    threshold = np.sqrt(imp["median"].min() * imp["median"].max())
    return int(imp[imp["median"] <= threshold].level.max())


def _ticket(out: Path, level: int, like_seed: int):
    folder = out / "levels" / f"level_{level:02d}"
    mask = level_mask(out / "levels", level, "imp", like_seed)
    with np.load(folder / f"imp_seed{like_seed}.params.npz") as npz:
        arrays = [npz[f"arr_{i}"] for i in range(len(npz.files))]
    kernel_path = first_layer_path(mask)
    index = list(mask.paths).index(kernel_path)
    return arrays[index], mask.leaves()[kernel_path]


def _regrowth(out: Path) -> tuple[pd.DataFrame | None, list[dict]]:
    """Every climb's rows (with its folder name as ``climb``) and one hysteresis claim per climb."""
    files = sorted(out.glob("regrowth-s*-from-*/regrowth.csv"))
    frames = [pd.read_csv(f).assign(climb=f.parent.name) for f in files]
    frames = [f for f in frames if len(f)]
    claims = []
    for frame in frames:
        verdict = hysteresis(frame)
        claims.append({"question": f"Hysteresis: regrowing weights ({frame.climb.iloc[0]}) gives errors more than "
                                   f"{HYSTERESIS_FACTOR:g}x from IMP's at some level",
                       "answer": "yes" if verdict["hysteresis"] else "no",
                       "detail": (f"up/down error ratio from {frame.ratio.min():.3g} to {frame.ratio.max():.3g} over rho "
                                  f"{frame.rho.min():.3g}-{frame.rho.max():.3g}; largest {verdict['largest_ratio']:.3g} "
                                  f"at rho {verdict['at_rho']:.3g}")})
    return (pd.concat(frames, ignore_index=True) if frames else None), claims


def _rescues(out: Path) -> pd.DataFrame | None:
    """The rescue interventions run on the study (``rescue-s*.csv`` of ``physlens prune-rescue``), or None."""
    frames = [pd.read_csv(f) for f in sorted(out.glob("rescue-s*.csv"))]
    return pd.concat(frames, ignore_index=True) if frames else None


def summarize(out: Path | str) -> LotterySummary:
    """Summarise the study saved in ``out`` (``study.json`` and the saved levels under ``levels/``)."""
    out = Path(out)
    levels = saved_levels(out)
    if not (out / "study.json").is_file() or levels.empty:
        raise PhyslensError(f"{out} holds no lottery study with a finished level (study.json, levels/level_00)")
    study = json.loads((out / "study.json").read_text())
    if "energy_sem" in levels:
        levels = levels.assign(rel_sem=levels.pop("energy_sem") / abs(study["e0"]))
    curve = _curve(levels)
    dense = float(curve[curve.level == 0]["median"].iloc[0])
    imp = curve[curve.arm == "imp"].sort_values("density")
    fit = piecewise_power_law(imp.density.to_numpy(), imp["median"].to_numpy()) if len(imp) >= 3 else None
    transition = _transition(levels, curve)
    system = make_system(study["system"], study["size"], **study["system_params"])
    filter_level = _filter_level(curve)
    kernel_NM, keep_NM = _ticket(out, filter_level, int(levels.seed.min()))
    overlap = stabiliser_overlap(kernel_NM, keep_NM, system) if isinstance(system, ToricCode) else None
    observables = measure(out)
    finished_controls, unfinished = _finished_controls(levels)
    claims = _claims(_curve(finished_controls), dense, unfinished)
    terms = term_table(out, levels, system)
    terms_random = term_table(out, levels, system, "random_prune") if (levels.arm == "random_prune").any() else None
    exact = "rel_sem" not in levels
    extra = ([] if isinstance(system, ToricCode) else [_jump_claim(observables)]) + ([term_claim(terms)] if exact else [])
    if exact and terms_random is not None:
        extra.append(term_claim(terms_random, " under iterative random pruning"))
    if extra:
        claims = pd.concat([claims, pd.DataFrame(extra)], ignore_index=True)
    regrowth, regrowth_claims = _regrowth(out)
    if regrowth_claims:
        claims = pd.concat([claims, pd.DataFrame(regrowth_claims)], ignore_index=True)
    return LotterySummary(study, levels, curve, dense, fit, transition, claims, filter_level, kernel_NM,
                          keep_NM, unit_filters(kernel_NM, keep_NM, system), overlap, system, observables, regrowth,
                          terms, _rescues(out), terms_random)
