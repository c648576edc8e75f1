"""A sweep over SAE sparsity, width and hook: one complete row per SAE, with the linear-probe ceiling beside it.

For every hook the activation dataset is collected once (exact Born weights over the basis
where it fits, samples of |ψ|² elsewhere; ``physlens.quantum.activations``), and the
*linear-probe ceiling* of each observable is measured on the token-mean activations
(``physlens.lens.probes.linear_probe``): the r a linear read-out of the raw activations
reaches. It bounds what a *linear* direction can do; an SAE feature is a non-linear function
of the activations and beats it where the observable is not linear in them (|m_s| against
pre-activations that are linear in σ). Then every SAE of the grid is trained on the same
tokens and measured:

- L0, explained variance, dead fraction (``physlens.lens.sae.sae_metrics``);
- energy recovered (E_zero − E_sae)/(E_zero − E_clean) and the fidelity |⟨ψ|ψ_sae⟩|² with the
  reconstruction spliced in, E_zero the hook zero-ablated (exact or reweighted);
- per observable: the best single feature's |r| (``best_abs_r[...]``), the linear probe on all
  latents (``latent_probe_r[...]``) and the ceiling (``probe_ceiling_r[...]``);
- for the target observable: how many features reach |r| ≥ 0.5 and the r of their best
  combination (``split_n``, ``split_combined_r``: ``physlens.lens.probes.split_features``).

An SAE is named by a spec ``arch:latents:value``: ``relu:64:1e-3`` (L1 coefficient λ),
``topk:64:4`` (k), ``jumprelu:64:1e-3`` (L0 coefficient), ``jumprelu:64:1e-3:0.03`` (and its
initial threshold θ₀, 0.001 when not given). Rows are appended to
``sweep.csv`` as each SAE finishes (written atomically), and a rerun skips (hook, spec)
pairs already there, so an interrupted sweep resumes.

Usage::

    frame = run_sweep(system, model, variables, SweepConfig(hooks=("resid.final",)), out="runs/sweep")
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from physlens.errors import PhyslensError, check_choice
from physlens.lens.interventions import Identity, KeepOnly, LensLogPsi
from physlens.lens.matching import match_features
from physlens.lens.probes import linear_probe, split_features
from physlens.lens.sae import TrainConfig, fidelity, fraction_recovered, sae_metrics, train_sae
from physlens.lens.sae.jumprelu import INITIAL_THRESHOLD
from physlens.lens.steering import SAELogPsi, steering_edits
from physlens.quantum.activations import collect_activations, in_chunks
from physlens.quantum.registry import lens_of
from physlens.quantum.systems import SpinSystem
from physlens.runs import atomic_write_text
from physlens.studies.sae_steering import (ARCHITECTURES, DEFAULT_TARGETS, SAEStudyConfig, config_latents, evaluator_of,
                                           model_accuracy, spliced_energy, train_tokens)

DEFAULT_GRID = (tuple(f"relu:64:{lam:g}" for lam in (1e-4, 3e-4, 1e-3, 3e-3, 1e-2))
                + tuple(f"topk:64:{k}" for k in (1, 2, 4, 8, 16))
                + ("jumprelu:64:0.001",) + tuple(f"jumprelu:64:{lam:g}:0.03" for lam in (1e-3, 1e-2, 1e-1))
                + ("topk:16:4", "topk:256:4", "relu:256:1e-3"))
"""The issue's grid: ReLU-L1 over λ, TopK over k ∈ {1, 2, 4, 8, 16}, JumpReLU over its L0 coefficient, and three
other dictionary sizes. JumpReLU starts once from the published θ₀ = 0.001 and three times from θ₀ = 0.03,
where λ sets L0 within 2,000 steps (from 0.001 it does not: ``physlens.lens.sae.jumprelu``)."""
SPLIT_MIN_R = 0.5
"""|r| from which a feature counts as one of the target's split features."""


def parse_spec(spec: str) -> tuple[str, int, float, float]:
    """``arch:latents:value[:threshold]`` → (architecture, latents, value, θ₀); value is k for TopK, the coefficient
    otherwise; the fourth field, JumpReLU's initial threshold θ₀, only for ``jumprelu`` (default 0.001)."""
    parts = spec.split(":")
    try:
        arch, latents, value = parts[0], int(parts[1]), float(parts[2])
        threshold = float(parts[3]) if len(parts) == 4 else INITIAL_THRESHOLD
    except (IndexError, ValueError):
        raise PhyslensError(f"SAE spec {spec!r} is not arch:latents:value; allowed: e.g. relu:64:1e-3, topk:64:4, "
                            "jumprelu:64:1e-3, jumprelu:64:1e-3:0.03") from None
    check_choice("SAE architecture", arch, ARCHITECTURES)
    fields = 4 if arch == "jumprelu" else 3
    if (not 3 <= len(parts) <= fields or latents < 1 or value <= 0 or not threshold > 0
            or (arch == "topk" and (value != int(value) or value > latents))):
        raise PhyslensError(f"SAE spec {spec!r}: need latents >= 1 and a positive value (an integer k <= latents for "
                            "topk), and a positive fourth field (θ₀) only for jumprelu")
    return arch, latents, value, threshold


@dataclass(frozen=True)
class SweepConfig:
    """The grid and how every SAE of it is trained.

    Attributes:
        hooks: hook points read (``resid.final``: per token; ``pooled``: per configuration; any hook name).
        saes: SAE specs (``parse_spec``).
        n_steps, batch_size, learning_rate: SAE training (Adam).
        method, n_samples: ``exact``/``sampled``/``auto`` and the number of configurations (``SAEStudyConfig``).
        target: the observable of the split-feature columns (None: |m_z| for TFIM, |m_s| for Heisenberg).
        seed: seeds the sampling and every SAE.
    """

    hooks: tuple[str, ...] = ("resid.final",)
    saes: tuple[str, ...] = DEFAULT_GRID
    n_steps: int = 2000
    batch_size: int = 1024
    learning_rate: float = 1e-3
    method: str = "auto"
    n_samples: int = 4096
    target: str | None = None
    seed: int = 0

    def __post_init__(self):
        if not self.hooks or not self.saes:
            raise PhyslensError("a sweep needs at least one hook and one SAE spec")
        for spec in self.saes:
            parse_spec(spec)

    def study_config(self, hook: str, spec: str) -> SAEStudyConfig:
        """The ``SAEStudyConfig`` of one SAE of the grid: ``spec``'s architecture, latents and k or sparsity,
        on ``hook``, trained with the sweep's settings."""
        arch, latents, value, threshold = parse_spec(spec)
        return SAEStudyConfig(hook=hook, arch=arch, d_sae=latents, k=int(value) if arch == "topk" else 4,
                              sparsity=value if arch != "topk" else 1e-3, threshold=threshold, n_steps=self.n_steps,
                              batch_size=self.batch_size, learning_rate=self.learning_rate, method=self.method,
                              n_samples=self.n_samples, seed=self.seed)


def _pooled(acts: np.ndarray) -> np.ndarray:
    return acts.mean(axis=1) if acts.ndim == 3 else acts


def _row(system, lens, data, tokens_ND, cfg: SAEStudyConfig, spec: str, target: str, ceiling: dict,
         energies: dict) -> dict:
    train = TrainConfig(n_steps=cfg.n_steps, batch_size=min(cfg.batch_size, len(tokens_ND)),
                        learning_rate=cfg.learning_rate, seed=cfg.seed)
    sae, _ = train_sae(cfg.sae_config(tokens_ND.shape[-1]), tokens_ND, train)
    metrics = sae_metrics(sae, tokens_ND)
    latents_SF = config_latents(sae, data.acts)
    match = match_features(latents_SF, data.observables, data.weights_S, exact=data.exact)
    best = match.observable_frame().set_index("observable")
    identity = jax.tree.map(lambda a: a[0], steering_edits(cfg.hook, 0, np.ones(1), cfg.d_sae))
    spliced_fn = jax.jit(SAELogPsi(lens, sae, cfg.hook, keep_error=False).bind(identity))
    log_psi_sae_S = in_chunks(spliced_fn, data.sigma_SN)
    e_sae, _ = spliced_energy(system, spliced_fn, data, data.log_psi_S, log_psi_sae_S)
    row = {"hook": cfg.hook, "sae": spec, "arch": cfg.arch, "latents": cfg.d_sae, "method": "exact" if data.exact else
           "sampled", "l0": metrics.l0, "explained_variance": metrics.explained_variance,
           "dead_fraction": metrics.dead_fraction, "energy_recovered": float(fraction_recovered(energies["zero"], e_sae,
                                                                                                energies["clean"])),
           "fidelity": float(fidelity(data.log_psi_S, log_psi_sae_S, data.weights_S)), "target": target}
    try:
        split = split_features(latents_SF, np.asarray(sae.params["W_dec"]), data.observables[target], data.weights_S,
                               SPLIT_MIN_R)
        row.update(split_n=int(split.features_K.size), split_combined_r=split.combined_r)
    except PhyslensError:
        row.update(split_n=0, split_combined_r=np.nan)
    for name, values in data.observables.items():
        row[f"best_abs_r[{name}]"] = float(best.loc[name, "abs_r"])
        row[f"latent_probe_r[{name}]"] = linear_probe(latents_SF, values, data.weights_S).r
        row[f"probe_ceiling_r[{name}]"] = ceiling[name]
    return row


def run_sweep(system: SpinSystem, model: nn.Module, variables: Any, config: SweepConfig, out: Path | str,
              progress: bool = False, reference: dict | None = None) -> pd.DataFrame:
    """Run (or resume) the sweep into ``out/sweep.csv``; returns every row (one per hook and SAE). ``progress`` shows a
    bar over the SAEs on stderr. ``reference`` (``energy``, ``method``) adds the model's ε to every row."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    file = out / "sweep.csv"
    rows = pd.read_csv(file).to_dict("records") if file.is_file() else []
    done = {(r["hook"], r["sae"]) for r in rows}
    lens = lens_of(model, variables)
    for hook in config.hooks:
        todo = [spec for spec in config.saes if (hook, spec) not in done]
        if not todo:
            continue
        first = config.study_config(hook, todo[0])
        data = collect_activations(model, variables, system, hook, method=config.method, pool=False,
                                   n_samples=config.n_samples, seed=config.seed)
        tokens_ND = train_tokens(data, first, np.random.default_rng(config.seed))
        pooled_SD = _pooled(np.asarray(data.acts))
        ceiling = {name: linear_probe(pooled_SD, values, data.weights_S).r for name, values in data.observables.items()}
        target = config.target or DEFAULT_TARGETS.get(system.kind.split("-")[0], next(iter(data.observables)))
        if target not in data.observables:
            raise PhyslensError(f"unknown target {target!r}; allowed: {', '.join(data.observables)}")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*ESS/S below.*")
            plain = evaluator_of(system, LensLogPsi(lens), data, first, [])
            base = plain.evaluate([Identity(hook), KeepOnly(hook, ())])
        energies = {"clean": float(base.energies_K[0]), "zero": float(base.energies_K[1])}
        accuracy = {"e_clean": energies["clean"]}
        if reference is not None:
            accuracy |= model_accuracy(energies["clean"], reference)
        for spec in tqdm(todo, desc=f"SAEs at {hook}", unit="SAE", file=sys.stderr, disable=not progress):
            rows.append(_row(system, lens, data, tokens_ND, config.study_config(hook, spec), spec,
                             target, ceiling, energies) | accuracy)
            atomic_write_text(file, pd.DataFrame(rows).to_csv(index=False))
    return pd.DataFrame(rows)
