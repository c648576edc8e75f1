"""SAE features of a network evolving in real time, matched to per-configuration observables at every saved time.

For an ``Evolution`` (``physlens.quantum.dynamics``) the activations of one site (default: the RBM's hidden
units after their activation, ``hidden.post``) are captured over the whole basis at every saved time t_k, with
the Born weights |ψ(σ, t_k)|²/Σ|ψ(t_k)|² of the evolved parameters. NetKet's RBM has complex parameters, so a
hidden unit's output log cosh(W_j·σ + b_j) is complex: its real part log|cosh(…)| is the unit's share of
log|ψ(σ)| (the amplitude, which sets the Born weights), its imaginary part its share of the phase. The SAE
reads the real part (``part="real"``, the default) or the modulus |log cosh(…)| (``part="abs"``); the phase
part is not analysed. ONE sparse autoencoder is trained on the pooled activations of all times (the same
number of configurations drawn from each time's Born distribution), so a feature means the same direction at
every time. At each time every feature is correlated, with that time's Born weights, with every
per-configuration observable: the columns of ``config_observables.observable_table`` (evaluated with that
time's log ψ, so ``e_loc`` and the bond energies follow the state) and the local transverse magnetisation
``m_x``. The result is a table time × feature × observable of Pearson r, and per observable the best feature
and its |r| against time, and whether the best feature stays the same feature.

    evolution = load("docs/studies/dynamics/runs/tfim12-h0.5-to-h1.0-dt0.0125")
    result = features_over_time(evolution, TrajectoryFeatureConfig(d_sae=32, k=4, n_steps=400))
    result.tracking_frame()          # t, observable, best_feature, r, abs_r
    result.stable_O, result.r_KFO.shape
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
import pandas as pd

from physlens.errors import PhyslensError, check_choice
from physlens.lens.matching import match_features
from physlens.lens.sae import SAE, TrainConfig, TrainLog, config_for, encode, train_sae
from physlens.quantum.activations import capture, log_psi_function
from physlens.quantum.config_observables import observable_table
from physlens.quantum.dynamics import Evolution
from physlens.quantum.models import HIDDEN_POST
from physlens.quantum.quench import BasisObservables
from physlens.quantum.registry import model_from_spec
from physlens.quantum.systems import SpinSystem

PARTS = ("real", "abs")
"""Which real number the SAE reads of a complex activation: its real part, or its modulus."""
ARCHITECTURES = ("topk", "relu")


@dataclass(frozen=True)
class TrajectoryFeatureConfig:
    """Which site is read and how the one SAE of the whole trajectory is trained.

    Attributes:
        hook: the site whose activations are captured (``hidden.post``: the RBM's hidden units).
        part: ``real`` (Re of each complex activation) or ``abs`` (its modulus); see the module docstring.
        arch: ``topk`` or ``relu``.
        d_sae: number of latents F.
        k: active latents per configuration (TopK).
        l1_coefficient: sparsity coefficient (ReLU).
        n_steps: SAE training steps.
        batch_size: configurations per step (capped at the pooled training set).
        learning_rate: Adam step size.
        tokens_per_time: configurations drawn from each saved time's Born distribution for training.
        seed: seeds the draws and the SAE.
    """

    hook: str = HIDDEN_POST
    part: str = "real"
    arch: str = "topk"
    d_sae: int = 32
    k: int = 4
    l1_coefficient: float = 1e-3
    n_steps: int = 400
    batch_size: int = 1024
    learning_rate: float = 1e-3
    tokens_per_time: int = 512
    seed: int = 0

    def __post_init__(self):
        check_choice("part", self.part, PARTS)
        check_choice("SAE architecture", self.arch, ARCHITECTURES)
        if self.tokens_per_time < 1:
            raise PhyslensError(f"tokens_per_time must be >= 1; got {self.tokens_per_time}")

    def sae_config(self, d_in: int):
        """The SAE architecture for inputs of width ``d_in``."""
        return config_for(self.arch, d_in, self.d_sae, k=self.k, sparsity=self.l1_coefficient)


@dataclass(frozen=True)
class TrajectoryActivations:
    """A site's activations over the whole basis at K saved times.

    Attributes:
        times_K: the saved times, in 1/[energy unit], ``(K,)``.
        sigma_SN: the basis configurations (±1), ``hilbert.all_states()`` order, ``(S, N)``.
        log_psi_KS: log ψ(σ, t_k) of the evolved network (complex, unnormalised), ``(K, S)``.
        weights_KS: Born weights |ψ(σ, t_k)|²/Σ_σ|ψ(σ, t_k)|², each row summing to 1, ``(K, S)``.
        acts_KSD: the real numbers read (``part`` of each activation), ``(K, S, D)``.
        observables: name → per-configuration value at each time, ``(K, S)`` each.
        units: name → unit of the observable.
        hook: the captured site. part: ``real`` or ``abs``.
    """

    times_K: np.ndarray
    sigma_SN: np.ndarray
    log_psi_KS: np.ndarray
    weights_KS: np.ndarray
    acts_KSD: np.ndarray
    observables: dict[str, np.ndarray]
    units: dict[str, str]
    hook: str
    part: str


def local_m_x(system: SpinSystem, log_psi_S: np.ndarray, basis: BasisObservables) -> np.ndarray:
    """Local transverse magnetisation Re[(1/N) Σ_i ψ(σ with spin i flipped)/ψ(σ)] / 2 over the basis, in ħ, ``(S,)``.

    Its Born average is ⟨(1/N) Σ_i S^x_i⟩ exactly. Needs a basis closed under single flips (no S^z sector).
    """
    flips_NS = basis.flips_NS
    if flips_NS is None:
        raise PhyslensError(f"{system.kind} conserves S^z; m_x has no local value in its sector")
    ratio_NS = np.exp(log_psi_S[flips_NS] - log_psi_S[None])
    return np.real(ratio_NS).mean(axis=0) / 2.0


def collect_trajectory(evolution: Evolution, hook: str = HIDDEN_POST, part: str = "real",
                       saved: np.ndarray | None = None) -> TrajectoryActivations:
    """Capture ``hook`` over the whole basis at the saved times ``saved`` (indices k; None: every saved time).

    Observables at each time: ``observable_table`` with that time's log ψ, and ``m_x`` (``local_m_x``).
    """
    check_choice("part", part, PARTS)
    system = evolution.config.build_quench().after
    n_saved = len(evolution.fidelity_T)
    saved_K = np.arange(n_saved) if saved is None else np.asarray(saved, dtype=int)
    if saved_K.size == 0 or saved_K.min() < 0 or saved_K.max() >= n_saved:
        raise PhyslensError(f"saved times must be indices in 0..{n_saved - 1}; got {saved_K.tolist()}")
    model = model_from_spec(evolution.config.model)
    basis = BasisObservables(system)
    sigma_SN = basis.basis_SN
    logs, weights, acts, tables = [], [], [], []
    for k in saved_K:
        variables = evolution.parameters(int(k))
        log_psi_S, acts_SD = capture(model, variables, sigma_SN, hook)
        log_p_S = 2.0 * np.real(log_psi_S)
        p_S = np.exp(log_p_S - log_p_S.max())
        table = observable_table(system, sigma_SN, log_psi_function(model, variables))
        logs.append(log_psi_S)
        weights.append(p_S / p_S.sum())
        acts.append(np.real(acts_SD) if part == "real" else np.abs(acts_SD))
        tables.append({"m_x": local_m_x(system, log_psi_S, basis), **table.values})
    units = {"m_x": "ħ", **table.units}
    observables = {name: np.stack([t[name] for t in tables]) for name in tables[0]}
    return TrajectoryActivations(evolution.nqs.times_T[saved_K], sigma_SN, np.stack(logs), np.stack(weights),
                                 np.stack(acts), observables, units, hook, part)


@dataclass(frozen=True)
class FeaturesOverTime:
    """One SAE's features matched to observables at K saved times.

    Attributes:
        times_K: the saved times, ``(K,)``.
        observables: the observables' names, length O.
        r_KFO: Born-weighted Pearson r of feature f with observable o at time t_k, ``(K, F, O)``
            (0 where either is constant under that time's weights).
        frequency_KF: Born-weighted fraction of configurations on which each feature fires, ``(K, F)``.
        sae: the SAE trained on all times. train_log: its training record.
        latents_KSF: the SAE's latents of every basis configuration at every time, ``(K, S, F)``.
        data: the activations and observables it was trained and matched on.
    """

    times_K: np.ndarray
    observables: tuple[str, ...]
    r_KFO: np.ndarray
    frequency_KF: np.ndarray
    sae: SAE
    train_log: TrainLog
    latents_KSF: np.ndarray
    data: TrajectoryActivations

    @property
    def best_feature_KO(self) -> np.ndarray:
        """The feature with the largest |r| for each observable at each time, ``(K, O)``."""
        return np.argmax(np.abs(self.r_KFO), axis=1)

    @property
    def best_abs_r_KO(self) -> np.ndarray:
        """That largest |r|, ``(K, O)``."""
        return np.abs(self.r_KFO).max(axis=1)

    @property
    def stable_O(self) -> np.ndarray:
        """Whether each observable's best feature is the same feature at every time, ``(O,)``."""
        best_KO = self.best_feature_KO
        return np.all(best_KO == best_KO[:1], axis=0)

    def index(self, observable: str) -> int:
        """Column of ``observable`` in ``r_KFO``."""
        check_choice("observable", observable, self.observables)
        return self.observables.index(observable)

    def r_of(self, feature: int, observable: str) -> np.ndarray:
        """r of one fixed feature with ``observable`` against time, ``(K,)``."""
        if not 0 <= feature < self.r_KFO.shape[1]:
            raise PhyslensError(f"feature must be in 0..{self.r_KFO.shape[1] - 1}; got {feature}")
        return self.r_KFO[:, feature, self.index(observable)]

    def tracking_frame(self) -> pd.DataFrame:
        """One row per (time, observable): the best feature, its r and |r|, and whether that observable's best
        feature is the same at all times."""
        best_KO = self.best_feature_KO
        k_KO, o_KO = np.indices(best_KO.shape)
        r_KO = self.r_KFO[k_KO, best_KO, o_KO]
        return pd.DataFrame({"t": self.times_K[k_KO].ravel(), "observable": np.array(self.observables)[o_KO].ravel(),
                             "best_feature": best_KO.ravel(), "r": r_KO.ravel(), "abs_r": np.abs(r_KO).ravel(),
                             "stable": self.stable_O[o_KO].ravel()})

    def frame(self) -> pd.DataFrame:
        """The whole table: one row per (time, feature, observable) with r and the feature's firing frequency."""
        k, f, o = (a.ravel() for a in np.indices(self.r_KFO.shape))
        return pd.DataFrame({"t": self.times_K[k], "feature": f, "observable": np.array(self.observables)[o],
                             "r": self.r_KFO.ravel(), "frequency": self.frequency_KF[k, f]})


def training_tokens(data: TrajectoryActivations, per_time: int, seed: int = 0) -> np.ndarray:
    """``per_time`` configurations' activations drawn from each time's Born weights, pooled, ``(K·per_time, D)``."""
    rng = np.random.default_rng(seed)
    picks = [rng.choice(data.weights_KS.shape[1], size=per_time, p=w_S) for w_S in data.weights_KS]
    return np.concatenate([acts_SD[p] for acts_SD, p in zip(data.acts_KSD, picks)])


def match_over_time(latents_KSF: np.ndarray, observables: dict[str, np.ndarray],
                    weights_KS: np.ndarray) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """At each time, ``match_features`` of latents ``(K, S, F)`` with observables (name → ``(K, S)``) under
    that time's weights ``(K, S)``: the names, r ``(K, F, O)`` and firing frequency ``(K, F)``."""
    matches = [match_features(latents_KSF[k], {n: v[k] for n, v in observables.items()}, weights_KS[k], exact=True)
               for k in range(len(weights_KS))]
    return matches[0].observables, np.stack([m.r_FO for m in matches]), np.stack([m.frequency_F for m in matches])


def features_over_time(evolution: Evolution, cfg: TrajectoryFeatureConfig = TrajectoryFeatureConfig(),
                       saved: np.ndarray | None = None) -> FeaturesOverTime:
    """Collect the trajectory's activations (``collect_trajectory``), train one SAE on all times, and match its
    features to the observables at every time (see the module docstring)."""
    data = collect_trajectory(evolution, cfg.hook, cfg.part, saved)
    tokens_ND = training_tokens(data, cfg.tokens_per_time, cfg.seed)
    train = TrainConfig(n_steps=cfg.n_steps, batch_size=min(cfg.batch_size, len(tokens_ND)),
                        learning_rate=cfg.learning_rate, seed=cfg.seed)
    sae, log = train_sae(cfg.sae_config(tokens_ND.shape[-1]), tokens_ND, train)
    n_times, n_states, width = data.acts_KSD.shape
    latents_KSF = np.asarray(jax.jit(encode)(sae, data.acts_KSD.reshape(-1, width))).reshape(n_times, n_states, -1)
    names, r_KFO, frequency_KF = match_over_time(latents_KSF, data.observables, data.weights_KS)
    return FeaturesOverTime(data.times_K, names, r_KFO, frequency_KF, sae, log, latents_KSF, data)
