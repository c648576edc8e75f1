"""The lattice bonds each IMP ticket of a lottery study spans, and whether the error steps where one is lost.

For every finished IMP ticket (level, seed), ``bond_table`` counts the Hamiltonian's two-site bonds that some
surviving first-layer filter spans (``physlens.lens.bond_coverage``). On the 4×4 TFIM at α = 8 the sparse tickets
keep almost only single-site and nearest-neighbour pair filters, every one of the 24 bonds spanned, on an error
plateau; ``bond_claim`` asks, seed by seed, whether the largest step of the error comes at the level where the
first bond loses its last filter — the largest step as the study's transition is its largest jump, here seed by
seed — and how large the step at that level is (exact errors only: a Monte Carlo step may be noise).

Usage::

    bonds = bond_table(out, levels, system)      # one row per IMP ticket
    claim = bond_claim(bonds)                    # a row of the study's claims
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from physlens.lens.bond_coverage import bond_coverage
from physlens.lens.lottery import level_mask
from physlens.lens.mask import Mask
from physlens.quantum.systems import SpinSystem


def first_layer_path(mask: Mask) -> str:
    """The path of the first-layer kernel among ``mask``'s leaves (the first leaf named ``kernel``)."""
    return next(p for p in mask.paths if p.endswith("kernel"))


def bond_table(out: Path, levels: pd.DataFrame, system: SpinSystem) -> pd.DataFrame:
    """One row per IMP ticket of ``levels`` (the study's finished networks): ``level``, ``seed``, ``density``, ``rho``
    (kept first-layer weights per spin), ``rel_error`` and the counts of ``BondCoverage.to_row`` against
    ``system.bonds``."""
    rows = []
    for ticket in levels[levels.arm == "imp"].sort_values(["seed", "level"]).itertuples():
        mask = level_mask(out / "levels", ticket.level, "imp", ticket.seed)
        keep_NM = mask.leaves()[first_layer_path(mask)]
        rows.append({"level": int(ticket.level), "seed": int(ticket.seed), "density": ticket.density,
                     "rho": float(np.count_nonzero(keep_NM)) / system.n_sites, "rel_error": ticket.rel_error,
                     **bond_coverage(keep_NM, system.bonds).to_row()})
    return pd.DataFrame(rows)


def bond_claim(bonds: pd.DataFrame) -> dict:
    """Per seed: the level where the first bond is no longer spanned, and the level of the largest step up in
    log10 relative error; the claim holds when the two coincide for every seed that loses a bond."""
    question = "Each seed's largest error step comes where the first lattice bond loses its last filter"
    found, details = [], []
    for seed, rows in bonds.groupby("seed"):
        rows = rows.sort_values("level").reset_index(drop=True)
        lost = rows.index[rows.bonds_covered < rows.bonds]
        if not len(lost) or lost[0] == 0:
            continue
        steps = np.diff(np.log10(rows.rel_error.to_numpy()))
        step = int(np.argmax(steps)) + 1
        found.append(step == lost[0])
        details.append(f"seed {seed}: first bond lost at rho {rows.rho[lost[0]]:.3g} (error {rows.rel_error[lost[0] - 1]:.3g}"
                       f" -> {rows.rel_error[lost[0]]:.3g}, {steps[lost[0] - 1]:+.2f} decades); largest step "
                       f"{steps[step - 1]:.2f} decades at rho {rows.rho[step - 1]:.3g} -> {rows.rho[step]:.3g}")
    if not found:
        return {"question": question, "answer": "not measured", "detail": "no seed's tickets lose a bond"}
    return {"question": question, "answer": "yes" if all(found) else "no", "detail": "; ".join(details)}
