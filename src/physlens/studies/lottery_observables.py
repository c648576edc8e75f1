"""What each network of a lottery-ticket study represents: exact magnetisations and fidelities.

For every saved (level, arm, seed) of a study folder (``physlens.studies.lottery.run_study``)
the network's log ψ is evaluated on the whole basis and gives, by full sums:

- ``rho``: remaining prunable weights per spin (Barton et al.'s x axis);
- ``m_z``, ``abs_m_z``, ``m_z_sq``, ``m_x``: ``physlens.quantum.magnetisation``;
- ``fidelity_dense``: |⟨ψ|ψ_dense⟩|² with the dense trained network of the same seed (level 0);
- ``fidelity_previous``: with the same arm and seed one level earlier (the dense network at level 1,
  and for a control not trained at the level before).

All the networks of one level go through one ``jax.vmap``-ed forward pass.

Usage::

    frame = measure("docs/studies/lottery-barton/4x4-a8-imp-s0")    # one row per network
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax
import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.lens.lottery import level_params
from physlens.lens.mask import Mask
from physlens.quantum.fidelity import fidelity
from physlens.quantum.magnetisation import flip_index, magnetisations
from physlens.quantum.masked_training import ExactProblem, param_template
from physlens.runs import dataclass_from_dict


def study_config(out: Path):
    """The ``StudyConfig`` recorded in ``out/study.json`` (fields it predates take their defaults)."""
    from physlens.studies.lottery import StudyConfig

    study = json.loads((out / "study.json").read_text())
    names = {f.name for f in dataclasses.fields(StudyConfig)}
    return dataclass_from_dict(StudyConfig, {k: v for k, v in study.items() if k in names})


def measure(out: Path | str) -> pd.DataFrame:
    """One row per finished (level, arm, seed): ``level``, ``arm``, ``seed``, ``density``, ``rho``, the four
    magnetisations, ``fidelity_dense``, ``fidelity_previous``; every value an exact full sum."""
    out = Path(out)
    finished = sorted((out / "levels").glob("level_*/level.json"))
    if not (out / "study.json").is_file() or not finished:
        raise PhyslensError(f"{out} holds no lottery study with a finished level (study.json, levels/level_00)")
    config = study_config(out)
    problem = ExactProblem.of(config.build_system())
    model = config.build_model()
    like = param_template(model, problem.n_sites)
    n_prunable = Mask.ones_like(like).size
    log_psi = jax.jit(jax.vmap(lambda params: model.apply({"params": params}, problem.basis_SN)))
    flips_SN = flip_index(problem.basis_SN)
    rows, states = [], {}
    for path in finished:
        entries = json.loads(path.read_text())
        stacked = jax.tree_util.tree_map(lambda *leaves: np.stack(leaves), *[
            level_params(out / "levels", e["level"], e["arm"], e["seed"], like) for e in entries])
        log_psi_KS = np.asarray(log_psi(stacked))
        for entry, log_psi_S in zip(entries, log_psi_KS):
            level, arm, seed = entry["level"], entry["arm"], entry["seed"]
            states[(level, arm, seed)] = log_psi_S
            dense = states[(0, "imp", seed)]
            previous = states.get((level - 1, arm, seed), dense)
            rows.append({"level": level, "arm": arm, "seed": seed, "density": entry["density"],
                         "rho": entry["density"] * n_prunable / problem.n_sites,
                         **magnetisations(problem.basis_SN, log_psi_S, flips_SN),
                         "fidelity_dense": float(fidelity(log_psi_S, dense)),
                         "fidelity_previous": float(fidelity(log_psi_S, previous))})
    return pd.DataFrame(rows)
