"""The SAE-steering study: sparse autoencoders on a trained NQS, matched to observables and steered.

Reproduces "Mechanistic Interpretability and Causal Feature Steering of Neural Quantum
States via Sparse Autoencoders" on one trained run: the activation dataset of a hook
(exact Born weights over the basis where it can be enumerated, Monte Carlo samples of
|ψ|² elsewhere) → an SAE → its quality (MSE, explained variance, L0, dead and dense
fractions, shrinkage, energy recovered (E_zero − E_sae)/(E_zero − E_clean) and the
fidelity |⟨ψ|ψ_sae⟩|² with the reconstruction spliced in) → feature ↔ observable matching
→ the steering curve of the feature best matched to the target observable. Everything
is computed here by composing ``lens`` and ``quantum``; ``sae_steering_outputs`` writes it::

    study = analyse_run(load("runs/sae-study/heisenberg-4x4"), SAEStudyConfig(k=8, d_sae=64))
    study.summary_row(), study.curve.to_frame()
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import flax.linen as nn
import jax
import numpy as np
import pandas as pd

from physlens.errors import PhyslensError, check_choice
from physlens.lens.evaluate import ExactEvaluator
from physlens.lens.hooks import Lens
from physlens.lens.interventions import Identity, KeepOnly, LensLogPsi
from physlens.lens.matching import FeatureMatch, match_features
from physlens.lens.sae import SAE, SAEMetrics, TrainConfig, TrainLog, config_for, encode
from physlens.lens.sae import fidelity, fraction_recovered, sae_metrics, train_sae
from physlens.lens.sae.jumprelu import INITIAL_THRESHOLD
from physlens.lens.sampled import LogPsiFn, SampledEvaluator, weighted_mean
from physlens.lens.steering import SAELogPsi, SteeringCurve, steering_curve, steering_edits
from physlens.quantum.activations import ActivationDataset, collect_activations, in_chunks
from physlens.quantum.config_observables import observable_table
from physlens.quantum.registry import lens_of
from physlens.quantum.systems import SpinSystem
from physlens.quantum.transformer import RESID_FINAL
from physlens.runs import Run
from physlens.quantum.evaluators import exact_evaluator_of, local_energy_fn, sampled_evaluator_of
from physlens.quantum.final_state import relative_error

ARCHITECTURES = ("topk", "relu", "jumprelu")
DEFAULT_TARGETS = {"tfim": "abs_m_z", "heisenberg": "abs_m_s"}
"""The observable each family's feature is matched to and steered by default (signed ones average to zero)."""
SAMPLED_MAX_BYTES = 2**27
"""Working-memory bound handed to the sampled evaluators: their estimate counts the hook's width, not a
transformer's hidden states, so a tighter bound keeps one batch of connected configurations in memory."""


@dataclass(frozen=True)
class SAEStudyConfig:
    """How the SAE is trained, what it is matched to, and how its feature is steered.

    Attributes:
        hook: the hook point the SAE reads (``resid.final``: per token; ``pooled``: per configuration).
        arch: ``topk``, ``relu`` or ``jumprelu``.
        d_sae: number of latents F.
        k: active latents per token (TopK).
        sparsity: L1 (ReLU) or L0 (JumpReLU) coefficient.
        threshold: JumpReLU's initial threshold θ₀ (normalised input units; see ``physlens.lens.sae.jumprelu``).
        n_steps: SAE training steps.
        batch_size: tokens per training step (capped at the dataset's size).
        learning_rate: Adam step size.
        method: ``exact`` (enumerate the basis), ``sampled`` (Monte Carlo) or ``auto``
            (exact when the basis is small enough, see ``physlens.quantum.activations``).
        n_samples: configurations drawn from |ψ|² (sampled) and SAE training configurations (exact).
        target: observable whose best feature is steered (None: abs_m_z = |m_z| for TFIM, abs_m_s = |m_s|
            for Heisenberg).
        strengths: steering strengths (scale factors of the feature by default).
        mode: ``scale``, ``clamp`` or ``add``.
        ess_threshold: smallest ESS/S of an admissible reweighted point.
        seed: seeds the sampling and the SAE.
    """

    hook: str = RESID_FINAL
    arch: str = "topk"
    d_sae: int = 64
    k: int = 4
    sparsity: float = 1e-3
    threshold: float = INITIAL_THRESHOLD
    n_steps: int = 2000
    batch_size: int = 1024
    learning_rate: float = 1e-3
    method: str = "auto"
    n_samples: int = 4096
    target: str | None = None
    strengths: tuple[float, ...] = tuple(np.round(np.linspace(0.0, 3.0, 31), 6))
    mode: str = "scale"
    ess_threshold: float = 0.1
    seed: int = 0

    def __post_init__(self):
        check_choice("SAE architecture", self.arch, ARCHITECTURES)
        check_choice("method", self.method, ("auto", "exact", "sampled"))
        if self.n_samples < 2 or not self.strengths:
            raise PhyslensError("n_samples must be >= 2 and strengths must hold at least one value")
        if not self.threshold > 0:
            raise PhyslensError("the JumpReLU initial threshold must be > 0 (normalised input units); "
                                f"got {self.threshold}")

    def sae_config(self, d_in: int):
        """The SAE architecture for inputs of width ``d_in``."""
        return config_for(self.arch, d_in, self.d_sae, k=self.k, sparsity=self.sparsity, threshold=self.threshold)


@dataclass(frozen=True)
class SAEStudy:
    """Everything the study measures on one run.

    Attributes:
        system: the system's parameters (``system`` = its kind).
        config: the study configuration.
        sae: the trained SAE.
        train_log: its training record.
        metrics: reconstruction and sparsity on the (Born-distributed) tokens.
        energies: ``clean``, ``sae`` (reconstruction spliced in, no error term) and ``zero``
            (hook zero-ablated) energies, in ``unit``.
        energy_ess: ESS/S of the ``sae`` and ``zero`` estimates (1 when exact).
        fidelity: |⟨ψ|ψ_sae⟩|² / (⟨ψ|ψ⟩⟨ψ_sae|ψ_sae⟩).
        match: feature ↔ observable correlations.
        target: the steered observable; feature: its best feature.
        curve: the steering curve of that feature.
        latents_SF: each configuration's token-mean latents, ``(S, F)``.
        data: the activation dataset (configurations, weights, activations, observables).
        coords_ND: site coordinates, ``(N, d)``.
        exact: True for full sums over the basis, False for Monte Carlo.
        unit: energy unit.
        reference: the ground-state energy the model is measured against (``energy``, ``method``), or None.
    """

    system: dict
    config: SAEStudyConfig
    sae: SAE
    train_log: TrainLog
    metrics: SAEMetrics
    energies: dict[str, float]
    energy_ess: dict[str, float]
    fidelity: float
    match: FeatureMatch
    target: str
    feature: int
    curve: SteeringCurve
    latents_SF: np.ndarray
    data: ActivationDataset
    coords_ND: np.ndarray
    exact: bool
    unit: str
    reference: dict | None = None

    @property
    def energy_recovered(self) -> float:
        """(E_zero − E_sae) / (E_zero − E_clean)."""
        e = self.energies
        return float(fraction_recovered(e["zero"], e["sae"], e["clean"]))

    def summary_row(self) -> dict:
        """The study's headline numbers for this run (energies in ``unit``)."""
        best = self.match.observable_frame().set_index("observable")
        row = {"system": self.system["system"], "n_sites": int(self.data.sigma_SN.shape[1]), "hook": self.config.hook,
               "arch": self.config.arch, "d_sae": self.config.d_sae, "method": "exact" if self.exact else "sampled",
               "n_configurations": int(self.data.sigma_SN.shape[0]), **asdict(self.metrics),
               "training_inputs": int(self.config.n_steps * min(self.config.batch_size, self.metrics.n_inputs)),
               "dead_after_tokens": int(self.sae.cfg.dead_after_tokens),
               "e_clean": self.energies["clean"], "e_sae": self.energies["sae"], "e_zero": self.energies["zero"],
               "ess_sae": self.energy_ess["sae"], "ess_zero": self.energy_ess["zero"],
               "energy_recovered": self.energy_recovered, "fidelity": self.fidelity, "target": self.target,
               "feature": self.feature, "feature_r": float(best.loc[self.target, "r"]), "unit": self.unit,
               "admissible_points": int(self.curve.admissible_K.sum()), "n_points": int(self.curve.strengths_K.size),
               "max_rel_energy_dev": self.curve.max_relative_deviation, **self.model_accuracy()}
        for name in self.match.observables:
            row[f"best_abs_r[{name}]"] = float(best.loc[name, "abs_r"])
        for name in self.curve.observables:
            row[f"spearman[{name}]"] = self.curve.spearman(name)
        return row

    def model_accuracy(self) -> dict:
        """``model_accuracy`` of the clean model's energy."""
        return model_accuracy(self.energies["clean"], self.reference)

    def to_frame(self) -> pd.DataFrame:
        """The summary as a one-row frame."""
        return pd.DataFrame([self.summary_row()])


def model_accuracy(e_clean: float, reference: dict | None) -> dict:
    """``e0``, ``e0_method`` and the model's ε = |E_clean − E0|/|E0| (``final_state.relative_error``; exact or
    sampled as ``e_clean``), for ``reference`` (``energy``, ``method``) or None (ε unavailable)."""
    if reference is None:
        return {"e0": None, "e0_method": "", "model_eps": None}
    e0 = float(reference["energy"])
    return {"e0": e0, "e0_method": reference["method"], "model_eps": relative_error(e_clean, e0)}


def accuracy_text(row: dict, unit: str) -> str:
    """One line for a console or a report: the model's ε, how E was summed and what E0 is (``row``: a summary or
    sweep row with ``method``, ``e_clean`` and the fields of ``model_accuracy``)."""
    how = "full sum" if row["method"] == "exact" else "Monte Carlo"
    return (f"model ε = |E − E0|/|E0| = {row['model_eps']:.3e} ({how}: E = {row['e_clean']:.6f}, "
            f"E0 = {row['e0']:.6f} {unit}, {row['e0_method']})")


def train_tokens(data: ActivationDataset, cfg: SAEStudyConfig, rng: np.random.Generator) -> np.ndarray:
    """Tokens distributed as |ψ|²: the samples (sampled), or configurations drawn with the Born weights (exact)."""
    acts = data.acts
    if data.exact:
        acts = acts[rng.choice(len(acts), size=cfg.n_samples, p=data.weights_S / data.weights_S.sum())]
    return acts.reshape(-1, acts.shape[-1])


def diagonal_observables(system: SpinSystem, data: ActivationDataset) -> list[str]:
    """The dataset's observables that are functions of the configuration alone (not of ψ, as the local
    energy is): the ones a steered state's Born average can be taken of."""
    return [n for n in observable_table(system, data.sigma_SN[:1]).values if n in data.observables]


def _diagonal(system, name: str):
    return lambda sigma_SN: observable_table(system, sigma_SN).values[name]


def evaluator_of(system: SpinSystem, log_psi_model: LensLogPsi | SAELogPsi, data: ActivationDataset,
                 cfg: SAEStudyConfig, names: list[str], resample: bool = False) -> ExactEvaluator | SampledEvaluator:
    """An evaluator of ``log_psi_model`` of the dataset's kind: exact over the basis, or reweighted from (``resample``:
    fresh for every intervention but the identity) samples, with the diagonal observables ``names``."""
    if data.exact:
        return exact_evaluator_of(system, log_psi_model, {n: data.observables[n] for n in names})
    functions = {n: _diagonal(system, n) for n in names}
    return sampled_evaluator_of(system, log_psi_model, data.sigma_SN, functions, resample=resample,
                                ess_threshold=1.0 if resample else cfg.ess_threshold,
                                seed=cfg.seed + 1 if resample else cfg.seed, max_bytes=SAMPLED_MAX_BYTES)


def evaluators(system: SpinSystem, lens: Lens, sae: SAE, data: ActivationDataset, cfg: SAEStudyConfig,
               names: list[str], resample: bool = False) -> list[ExactEvaluator | SampledEvaluator]:
    """Two evaluators of one kind (exact or sampled): the plain lens and the SAE with its error term kept
    (both reproduce the sampled model under the identity edit, as reweighting needs). ``resample``: sampled
    evaluators draw fresh samples for every intervention but the identity."""
    return [evaluator_of(system, m, data, cfg, names, resample) for m in (LensLogPsi(lens), SAELogPsi(lens, sae, cfg.hook))]


def spliced_energy(system: SpinSystem, spliced_fn: LogPsiFn, data: ActivationDataset, log_psi_S: np.ndarray,
                    log_psi_sae_S: np.ndarray) -> tuple[float, float]:
    """Energy of the spliced model (unit of the system) and its ESS/S: exact with Born weights, else
    reweighted from the samples with w ∝ |ψ_sae/ψ|²."""
    if data.exact:
        return system.energy_of(log_psi_sae_S), 1.0
    log_w_S = 2 * np.real(log_psi_sae_S - log_psi_S)
    w_S = np.exp(log_w_S - log_w_S.max())
    e_loc_S = np.real(np.asarray(local_energy_fn(system)(spliced_fn, data.sigma_SN)))
    energy, _ = weighted_mean(e_loc_S[None], w_S[None])
    return float(energy[0]), float(w_S.sum() ** 2 / (w_S**2).sum() / len(w_S))


@jax.jit
def _config_latents(sae: SAE, acts):
    latents = encode(sae, acts)
    return latents.mean(axis=1) if latents.ndim == 3 else latents


def config_latents(sae: SAE, acts: np.ndarray) -> np.ndarray:
    """Each configuration's latents, ``(S, F)``: the token mean of the SAE's codes of activations ``(S, T, D)`` (or
    the codes of ``(S, D)``), encoded in blocks of configurations (a 2^20-state basis does not fit at once)."""
    return in_chunks(lambda a: _config_latents(sae, a), np.asarray(acts))


def analyse(system: SpinSystem, model: nn.Module, variables: Any, cfg: SAEStudyConfig = SAEStudyConfig(),
            reference: dict | None = None) -> SAEStudy:
    """Train an SAE at ``cfg.hook`` of a trained model, match, measure and steer its features; ``reference``
    (``energy``, ``method``: e.g. ``Opened.reference()``) gives the model's ε in the summary."""
    rng = np.random.default_rng(cfg.seed)
    lens = lens_of(model, variables)
    data = collect_activations(model, variables, system, cfg.hook, method=cfg.method, pool=False,
                               n_samples=cfg.n_samples, seed=cfg.seed)
    tokens_ND = train_tokens(data, cfg, rng)
    train = TrainConfig(n_steps=cfg.n_steps, batch_size=min(cfg.batch_size, len(tokens_ND)),
                        learning_rate=cfg.learning_rate, seed=cfg.seed)
    sae, log = train_sae(cfg.sae_config(tokens_ND.shape[-1]), tokens_ND, train)
    metrics = sae_metrics(sae, tokens_ND)
    latents_SF = config_latents(sae, data.acts)
    match = match_features(latents_SF, data.observables, data.weights_S, exact=data.exact)
    family = system.kind.split("-")[0]
    target = cfg.target or DEFAULT_TARGETS.get(family, match.observables[0])
    feature = match.best_feature(target)
    plain, steered = evaluators(system, lens, sae, data, cfg, diagonal_observables(system, data))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*ESS/S below.*")
        base = plain.evaluate([Identity(cfg.hook), KeepOnly(cfg.hook, ())])
    identity = jax.tree.map(lambda a: a[0], steering_edits(cfg.hook, feature, np.ones(1), cfg.d_sae))
    spliced_fn = jax.jit(SAELogPsi(lens, sae, cfg.hook, keep_error=False).bind(identity))
    log_psi_S = data.log_psi_S
    log_psi_sae_S = in_chunks(spliced_fn, data.sigma_SN)
    e_sae, ess_sae = spliced_energy(system, spliced_fn, data, log_psi_S, log_psi_sae_S)
    energies = {"clean": float(base.energies_K[0]), "sae": e_sae, "zero": float(base.energies_K[1])}
    energy_ess = {"sae": ess_sae, "zero": float(min(base.ess_K[1] / base.n_samples, 1.0))}
    fid = fidelity(log_psi_S, log_psi_sae_S, data.weights_S)
    curve = steering_curve(steered, cfg.hook, feature, np.asarray(cfg.strengths), mode=cfg.mode,
                           ess_threshold=cfg.ess_threshold)
    return SAEStudy(system.params(), cfg, sae, log, metrics, energies, energy_ess, fid, match, target, feature, curve,
                    latents_SF, data, np.asarray(system.coords), data.exact, system.energy_unit, reference)


def analyse_run(run: Run, cfg: SAEStudyConfig = SAEStudyConfig()) -> SAEStudy:
    """``analyse`` on a loaded run, its ε measured against the run's recorded reference energy."""
    reference = run.reference if run.reference.get("energy") is not None else None
    return analyse(run.system, run.model, run.variables, cfg, reference=reference)


def resampled_check(study: SAEStudy, system: SpinSystem, model: nn.Module, variables: Any,
                    strengths: np.ndarray) -> SteeringCurve:
    """The steering curve at ``strengths`` from fresh Monte Carlo samples of every steered state
    (the check of reweighted numbers); needs a sampled study."""
    if study.exact:
        raise PhyslensError("the resampling check is for sampled studies; exact curves need none")
    cfg = study.config
    _, evaluator = evaluators(system, lens_of(model, variables), study.sae, study.data, cfg,
                               diagonal_observables(system, study.data), resample=True)
    return steering_curve(evaluator, cfg.hook, study.feature, strengths, mode=cfg.mode, ess_threshold=cfg.ess_threshold)


def steer(system: SpinSystem, model: nn.Module, variables: Any, sae: SAE, hook: str, feature: int,
          strengths: np.ndarray, *, mode: str = "scale", method: str = "auto", n_samples: int = 4096,
          ess_threshold: float = 0.1, seed: int = 0, resample: bool = False) -> SteeringCurve:
    """The steering curve of one feature of a saved SAE at ``hook`` of a trained model (exact or sampled;
    ``resample``: every steered point from fresh samples, the check of reweighted numbers)."""
    cfg = SAEStudyConfig(hook=hook, d_sae=sae.cfg.d_sae, method=method, n_samples=n_samples, mode=mode,
                         ess_threshold=ess_threshold, seed=seed, strengths=tuple(float(s) for s in np.ravel(strengths)))
    lens = lens_of(model, variables)
    data = collect_activations(model, variables, system, hook, method=method, pool=False, n_samples=n_samples,
                               seed=seed, with_observables=False)
    if data.acts.shape[-1] != sae.cfg.d_in:
        raise PhyslensError(f"the SAE reads width {sae.cfg.d_in}; hook {hook} has width {data.acts.shape[-1]}")
    names = list(observable_table(system, data.sigma_SN[:1]).values)
    data = dataclasses.replace(data, observables=observable_table(system, data.sigma_SN).values)
    _, steered = evaluators(system, lens, sae, data, cfg, names, resample)
    return steering_curve(steered, hook, feature, np.asarray(cfg.strengths), mode=mode, ess_threshold=ess_threshold)
