"""What each network of a lottery-ticket study represents: exact magnetisations and fidelities.

For every saved (level, arm, seed) of a study folder (``physlens.studies.lottery.run_study``)
the network's log ψ is evaluated on the whole basis and gives, by full sums:

- ``rho``: remaining prunable weights per spin (Barton et al.'s x axis);
- ``m_z``, ``abs_m_z``, ``m_z_sq``, ``m_x``: ``physlens.quantum.magnetisation``;
- ``fidelity_dense``: |⟨ψ|ψ_dense⟩|² with the dense trained network of the same seed (level 0);
- ``fidelity_previous``: with the same arm and seed one level earlier (the dense network at level 1,
  and for a control not trained at the level before).

All the networks of one level go through one ``jax.vmap``-ed forward pass.

A study beyond the exact basis (``evaluation = "sampled"``) gets the same columns as Monte Carlo
estimates (``monte_carlo_problem``; fidelities by ``fidelity.sampled_fidelity``), each magnetisation
with its standard error (``…_sem``) and ``method`` saying so. Sampling takes seconds per network, so
each level's rows are kept in ``levels/level_NN/observables.json`` (derived data: the sampler seeds
follow from the networks, so the file holds what a new measurement would give).

Usage::

    frame = measure("docs/studies/lottery-barton/4x4-a8-imp-s0")    # one row per network
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

import jax
import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.lens.lottery import level_mask, level_params
from physlens.lens.mask import Mask
from physlens.quantum.fidelity import fidelity, sampled_fidelity
from physlens.quantum.magnetisation import flip_index, magnetisations
from physlens.quantum.masked_training import ExactProblem, param_template
from physlens.runs import atomic_write_text, dataclass_from_dict

if TYPE_CHECKING:
    from physlens.studies.lottery_config import StudyConfig


def study_config(out: Path) -> StudyConfig:
    """The ``StudyConfig`` recorded in ``out/study.json`` (fields it predates take their defaults)."""
    from physlens.studies.lottery_config import StudyConfig

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
    if config.evaluation == "sampled":
        return _measure_sampled(out, config, finished)
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


def _measure_sampled(out: Path, config, finished: list[Path]) -> pd.DataFrame:
    """``measure`` by Monte Carlo, level by level, reusing each level's ``observables.json`` when it holds the
    level's networks; a network is sampled only when a row needs it."""
    problem = config.build_problem(json.loads((out / "study.json").read_text()))
    model = config.build_model()
    like = param_template(model, problem.n_sites)
    n_prunable = Mask.ones_like(like).size
    levels = [json.loads(path.read_text()) for path in finished]
    saved = {(e["level"], e["arm"], e["seed"]) for entries in levels for e in entries}
    samples = {}

    def network(key):
        if key not in samples:
            samples[key] = problem.sample(model, level_params(out / "levels", *key, like),
                                          level_mask(out / "levels", *key, like), with_energy=False)
        return samples[key]

    rows = []
    for path, entries in zip(finished, levels):
        cache = path.parent / "observables.json"
        cached = json.loads(cache.read_text()) if cache.is_file() else []
        if [(r["level"], r["arm"], r["seed"]) for r in cached] == [(e["level"], e["arm"], e["seed"]) for e in entries]:
            rows += cached
            continue
        level_rows = []
        for entry in entries:
            level, arm, seed = key = entry["level"], entry["arm"], entry["seed"]
            dense = (0, "imp", seed)
            previous = (level - 1, arm, seed) if (level - 1, arm, seed) in saved else dense
            level_rows.append({"level": level, "arm": arm, "seed": seed, "density": entry["density"],
                               "rho": entry["density"] * n_prunable / problem.n_sites,
                               **network(key).values,
                               "fidelity_dense": _fidelity(network(key), network(dense)),
                               "fidelity_previous": _fidelity(network(key), network(previous)),
                               "method": problem.method})
        atomic_write_text(cache, json.dumps(level_rows, indent=1))
        rows += level_rows
    return pd.DataFrame(rows)


def _fidelity(a, b) -> float:
    """Sampled fidelity of two ``NetworkSample``s (1 for a network with itself)."""
    if a is b:
        return 1.0
    return sampled_fidelity(a.log_psi(a.sigma_SN), b.log_psi(a.sigma_SN), a.log_psi(b.sigma_SN), b.log_psi(b.sigma_SN))
