"""The interaction terms each IMP ticket of a lottery study spans, and whether the error steps where one is lost.

For every finished IMP ticket (level, seed), ``term_table`` counts the Hamiltonian's terms that some surviving
first-layer filter spans (``physlens.lens.term_coverage``): the two-site bonds of the TFIM, the four-edge plaquettes
of the toric code (the σ^z-diagonal terms, which an amplitude filter can read; a star flips its edges). On the 4×4
TFIM at α = 8 the sparse tickets keep almost only single-site and nearest-neighbour pair filters, every one of the
24 bonds spanned, on an error plateau; on the toric code the sparse tickets keep only filters on exactly one
plaquette. ``term_claim`` asks, seed by seed, whether the largest step of the error comes at the level where the
first term loses its last filter — the largest step as the study's transition is its largest jump, here seed by
seed — and how large the step at that level is (exact errors only: a Monte Carlo step may be noise).

Usage::

    terms = term_table(out, levels, system)      # one row per IMP ticket
    claim = term_claim(terms)                    # a row of the study's claims
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from physlens.lens.lottery import level_mask
from physlens.lens.mask import Mask
from physlens.lens.term_coverage import term_coverage
from physlens.quantum.systems import SpinSystem, ToricCode


def first_layer_path(mask: Mask) -> str:
    """The path of the first-layer kernel among ``mask``'s leaves (the first leaf named ``kernel``)."""
    return next(p for p in mask.paths if p.endswith("kernel"))


def interaction_terms(system: SpinSystem) -> tuple[str, np.ndarray]:
    """The name and sites ``(E, K)`` of the interaction terms a first-layer filter is counted against: the toric
    code's plaquettes (K = 4; its σ^z terms, which an amplitude can read), every other system's two-site bonds."""
    if isinstance(system, ToricCode):
        return "plaquette", system.plaquettes
    return "bond", system.bonds


def term_table(out: Path, levels: pd.DataFrame, system: SpinSystem, arm: str = "imp") -> pd.DataFrame:
    """One row per network of ``arm`` (default the IMP tickets; ``random_prune`` is the other arm pruned level by
    level) in ``levels`` (the study's finished networks), from the dense network of level 0 on (every arm's start):
    ``level``, ``seed``, ``density``, ``rho`` (kept first-layer weights per spin), ``rel_error``, ``term`` (the
    terms' name) and the counts of ``TermCoverage.to_row`` against ``interaction_terms(system)``."""
    name, terms_EK = interaction_terms(system)
    rows = []
    chosen = levels[(levels.arm == arm) | (levels.level == 0)]    # level 0 holds only IMP's dense networks
    for ticket in chosen.sort_values(["seed", "level"]).itertuples():
        mask = level_mask(out / "levels", ticket.level, ticket.arm, ticket.seed)
        keep_NM = mask.leaves()[first_layer_path(mask)]
        rows.append({"level": int(ticket.level), "seed": int(ticket.seed), "density": ticket.density,
                     "rho": float(np.count_nonzero(keep_NM)) / system.n_sites, "rel_error": ticket.rel_error,
                     "term": name, **term_coverage(keep_NM, terms_EK).to_row()})
    return pd.DataFrame(rows)


def term_claim(terms: pd.DataFrame, pruned_by: str = "") -> dict:
    """Per seed: the level where the first term is no longer spanned, and the level of the largest step up in
    log10 relative error; the claim holds when the two coincide for every seed that loses a term. ``pruned_by``
    names the arm in the question when it is not IMP (e.g. " under iterative random pruning")."""
    name = terms.term.iloc[0] if len(terms) else "term"
    question = f"Each seed's largest error step{pruned_by} comes where the first {name} loses its last filter"
    found, details = [], []
    for seed, rows in terms.groupby("seed"):
        rows = rows.sort_values("level").reset_index(drop=True)
        lost = rows.index[rows.terms_covered < rows.terms]
        if not len(lost) or lost[0] == 0:
            continue
        steps = np.diff(np.log10(rows.rel_error.to_numpy()))
        step = int(np.argmax(steps)) + 1
        found.append(step == lost[0])
        details.append(f"seed {seed}: first {name} lost at rho {rows.rho[lost[0]]:.3g} (error "
                       f"{rows.rel_error[lost[0] - 1]:.3g} -> {rows.rel_error[lost[0]]:.3g}, {steps[lost[0] - 1]:+.2f} "
                       f"decades); largest step {steps[step - 1]:.2f} decades at rho {rows.rho[step - 1]:.3g} -> "
                       f"{rows.rho[step]:.3g}")
    if not found:
        return {"question": question, "answer": "not measured", "detail": f"no seed's tickets lose a {name}"}
    return {"question": question, "answer": "yes" if all(found) else "no", "detail": "; ".join(details)}
