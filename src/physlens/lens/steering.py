"""Causal steering of one SAE feature, and the steering curve it traces.

An SAE attached at hook ``hook`` rewrites that site as

    x ↦ x + decode(edit(z)) − decode(z),    z = encode(x),

so the SAE's error term is kept and the identity edit reproduces the model bit for bit.
Edits of the latents are the affine ``HookEdit``s of ``interventions.py`` acting on the F
latents instead of the D activation components: scale feature f by s, clamp it to s, or
add s to it. ``SAELogPsi`` is the model with such an edit, in the form the evaluators
batch over, so a whole steering curve (K strengths) is one batched pass of the
``ExactEvaluator`` (enumerable basis) or one reweighted pass of the ``SampledEvaluator``
(importance weights from the unsteered samples; strengths whose ESS/S falls below a
threshold are flagged inadmissible, or resampled if that evaluator has a sampler)::

    log_psi = SAELogPsi(Lens(model, variables), sae, "resid.final")
    evaluator = ExactEvaluator(log_psi, basis_SN, h_sparse, {"m_s": ms_S}, unit="J")
    curve = steering_curve(evaluator, "resid.final", feature=12, strengths=np.linspace(0, 3, 50))
    curve.spearman("m_s"), curve.max_relative_deviation, curve.to_frame()
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import scipy.stats

from physlens.errors import PhyslensError, check_choice
from physlens.lens.evaluate import EvaluationResult
from physlens.lens.hooks import Lens
from physlens.lens.interventions import HookEdit
from physlens.lens.sae import SAE, splice

if TYPE_CHECKING:
    from physlens.lens.evaluate import ExactEvaluator
    from physlens.lens.sampled import SampledEvaluator

MODES = ("scale", "clamp", "add")
IDENTITY_STRENGTH = {"scale": 1.0, "add": 0.0}
"""The strength at which each mode leaves the feature unchanged (clamping has none)."""
ESS_THRESHOLD = 0.1
"""Default smallest ESS/S at which a reweighted estimate is admissible."""


@jax.tree_util.register_pytree_node_class
@dataclass(frozen=True)
class SAELogPsi:
    """A model with an SAE at ``hook`` whose latents are edited: ``(sigma_BN, edit) ↦ log ψ_B``.

    ``edit`` is a ``HookEdit`` on the F latents (``scale``, ``shift`` of shape ``(F,)``).
    With ``keep_error`` the error term is kept (identity edit = the model exactly);
    without it the site is replaced by the (edited) reconstruction itself. A JAX pytree
    (variables and SAE are leaves), as the evaluators need.

    Attributes:
        lens: the model and its variables.
        sae: the SAE trained on the activations of ``hook`` (last axis D = ``sae.cfg.d_in``).
        hook: the hook point the SAE reads and rewrites.
        keep_error: add back the SAE's reconstruction error.
    """

    lens: Lens
    sae: SAE
    hook: str
    keep_error: bool = True

    def __call__(self, sigma_BN: jax.Array, edit: HookEdit) -> jax.Array:
        """log ψ of ``sigma_BN`` (``(B, N)``) with the latents edited by ``edit``; shape ``(B,)``."""
        if edit.hook != self.hook:
            raise PhyslensError(f"edit acts on {edit.hook!r} but the SAE sits at {self.hook!r}")
        return self.lens.run_with_hooks(sigma_BN, {self.hook: lambda x: splice(self.sae, x, self.keep_error, edit)})

    def bind(self, edit: HookEdit):
        """The steered model as a plain function ``sigma_BN ↦ log ψ_B``."""
        return lambda sigma_BN: self(sigma_BN, edit)

    def width(self, hook: str, sigma_BN: jax.Array) -> int:
        """Number of latents F (the width every edit must have)."""
        if hook != self.hook:
            raise PhyslensError(f"the SAE sits at {self.hook!r}; got edits for {hook!r}")
        return self.sae.cfg.d_sae

    def tree_flatten(self):
        return (self.lens.variables, self.sae), (self.lens.model, self.hook, self.keep_error)

    @classmethod
    def tree_unflatten(cls, aux, children):
        model, hook, keep_error = aux
        return cls(Lens(model, children[0]), children[1], hook, keep_error)


def steering_edits(hook: str, feature: int, strengths: np.ndarray, d_sae: int, mode: str = "scale") -> HookEdit:
    """K latent edits of feature ``feature`` at strengths ``strengths`` (``(K,)``): a ``(K, F)`` ``HookEdit``.

    ``scale``: z_f ↦ s·z_f; ``clamp``: z_f ↦ s; ``add``: z_f ↦ z_f + s (s in the latent's units).
    """
    check_choice("steering mode", mode, MODES)
    if not 0 <= feature < d_sae:
        raise PhyslensError(f"feature {feature} out of range; the SAE has features 0..{d_sae - 1}")
    strengths_K = np.asarray(strengths, dtype=float).reshape(-1)
    scale_KF = np.ones((strengths_K.size, d_sae))
    shift_KF = np.zeros((strengths_K.size, d_sae))
    if mode == "scale":
        scale_KF[:, feature] = strengths_K
    elif mode == "clamp":
        scale_KF[:, feature], shift_KF[:, feature] = 0.0, strengths_K
    else:
        shift_KF[:, feature] = strengths_K
    return HookEdit(hook, jnp.asarray(scale_KF), jnp.asarray(shift_KF))


@dataclass(frozen=True)
class SteeringCurve:
    """Energy and observables of the model as one SAE feature is steered, point by point.

    Attributes:
        hook: the hook point of the SAE.
        feature: the steered feature.
        mode: ``scale``, ``clamp`` or ``add``.
        strengths_K: steering strengths, ascending, ``(K,)``.
        energies_K: energy of each steered state, in ``unit``, ``(K,)``.
        energy_errors_K: standard errors (0 when exact), ``(K,)``.
        energy_reference: energy of the unsteered model, in ``unit`` (estimated the same way).
        observables: name → Born average of each steered state, ``(K,)``.
        observable_errors: name → standard error (0 when exact), ``(K,)``.
        ess_fraction_K: ESS/S of each reweighted estimate (inf when exact), ``(K,)``.
        resampled_K: True where fresh samples of the steered state were drawn, ``(K,)``.
        admissible_K: True on the contiguous range of trusted strengths (see ``steering_curve``), ``(K,)``.
        ess_threshold: the ESS/S cut of admissibility.
        exact: True for full sums over the basis, False for Monte Carlo.
        unit: energy unit.
        n_samples: basis size (exact) or number of reference samples.
        shift_errors_K: standard error of E(s) − E_unsteered, in ``unit`` (0 when exact; paired over the
            shared samples when reweighted, see ``physlens.lens.sampled``), ``(K,)``.
    """

    hook: str
    feature: int
    mode: str
    strengths_K: np.ndarray
    energies_K: np.ndarray
    energy_errors_K: np.ndarray
    energy_reference: float
    observables: dict[str, np.ndarray]
    observable_errors: dict[str, np.ndarray]
    ess_fraction_K: np.ndarray
    resampled_K: np.ndarray
    admissible_K: np.ndarray
    ess_threshold: float
    exact: bool
    unit: str
    n_samples: int
    shift_errors_K: np.ndarray

    @property
    def relative_deviation_K(self) -> np.ndarray:
        """(E(s) − E_unsteered)/|E_unsteered|, ``(K,)``."""
        return (self.energies_K - self.energy_reference) / abs(self.energy_reference)

    @property
    def relative_deviation_errors_K(self) -> np.ndarray:
        """Standard error of ``relative_deviation_K`` (0 when exact), ``(K,)``."""
        return self.shift_errors_K / abs(self.energy_reference)

    @property
    def max_relative_deviation(self) -> float:
        """Largest |relative energy deviation| over the admissible range."""
        return float(np.abs(self.relative_deviation_K[self.admissible_K]).max(initial=0.0))

    @property
    def method_K(self) -> np.ndarray:
        """``exact``, ``reweighted`` or ``resampled`` for each point, ``(K,)``."""
        if self.exact:
            return np.full(self.strengths_K.size, "exact")
        return np.where(self.resampled_K, "resampled", "reweighted")

    def spearman(self, observable: str) -> float:
        """Spearman ρ of ``observable`` against strength over the admissible range (nan with < 3 points)."""
        check_choice("observable", observable, self.observables)
        keep = self.admissible_K
        values = self.observables[observable][keep]
        if keep.sum() < 3 or np.ptp(values) == 0:
            return float("nan")
        return float(scipy.stats.spearmanr(self.strengths_K[keep], values).statistic)

    def to_frame(self) -> pd.DataFrame:
        """One row per strength: strength, energy (+ error), relative deviation (+ its paired error), each
        observable (+ error), ESS/S, admissible, method."""
        frame = pd.DataFrame({"strength": self.strengths_K, "energy": self.energies_K, "energy_err": self.energy_errors_K,
                              "rel_energy_dev": self.relative_deviation_K,
                              "rel_energy_dev_err": self.relative_deviation_errors_K})
        for name, values in self.observables.items():
            frame[name], frame[f"{name}_err"] = values, self.observable_errors[name]
        frame["ess_fraction"], frame["admissible"], frame["method"] = self.ess_fraction_K, self.admissible_K, self.method_K
        frame["feature"], frame["mode"], frame["hook"], frame["unit"] = self.feature, self.mode, self.hook, self.unit
        return frame


def admissible_range(strengths_K: np.ndarray, trusted_K: np.ndarray, centre: float | None) -> np.ndarray:
    """The contiguous run of trusted points (strengths ascending) that holds the one nearest ``centre``,
    or the longest run when ``centre`` is None; boolean ``(K,)``."""
    keep_K = np.zeros(trusted_K.size, bool)
    if not trusted_K.any():
        return keep_K
    edges = np.flatnonzero(np.diff(np.concatenate([[0], trusted_K.astype(int), [0]])))
    runs = list(zip(edges[::2], edges[1::2]))
    if centre is None:
        start, stop = max(runs, key=lambda r: r[1] - r[0])
    else:
        nearest = int(np.argmin(np.abs(strengths_K - centre)))

        def distance(run: tuple[int, int]) -> int:
            start, stop = run
            return 0 if start <= nearest < stop else min(abs(nearest - start), abs(nearest - stop + 1))

        start, stop = min(runs, key=distance)
    keep_K[start:stop] = True
    return keep_K


def steering_curve(evaluator: ExactEvaluator | SampledEvaluator, hook: str, feature: int, strengths: np.ndarray, *,
                   mode: str = "scale", ess_threshold: float = ESS_THRESHOLD) -> SteeringCurve:
    """Steer SAE feature ``feature`` at every strength (``(K,)``) and evaluate each steered model.

    ``evaluator``: an ``ExactEvaluator`` or ``SampledEvaluator`` built on an ``SAELogPsi``
    whose SAE sits at ``hook``; all K strengths and the unsteered reference go through it
    in one batched call. A reweighted point is trusted when ESS/S ≥ ``ess_threshold`` (or
    when it was resampled); exact points always are. The admissible range is the
    contiguous run of trusted strengths around the identity strength (scale: 1, add: 0;
    clamp: the longest run).
    """
    if not 0 <= ess_threshold <= 1:
        raise PhyslensError(f"ess_threshold must be in [0, 1] (a fraction of the sample size); got {ess_threshold}")
    strengths_K = np.sort(np.asarray(strengths, dtype=float).reshape(-1))
    if strengths_K.size < 1 or not np.all(np.isfinite(strengths_K)):
        raise PhyslensError("strengths must be one or more finite numbers")
    if not isinstance(evaluator.log_psi, SAELogPsi):
        raise PhyslensError(f"steering needs an evaluator built on an SAELogPsi; got {type(evaluator.log_psi).__name__}")
    d_sae = evaluator.log_psi.width(hook, None)
    edit_KF = steering_edits(hook, feature, strengths_K, d_sae, mode)
    identity = steering_edits(hook, feature, np.ones(1), d_sae, "scale")
    edit_KF = HookEdit(hook, jnp.concatenate([edit_KF.scale, identity.scale]), jnp.concatenate([edit_KF.shift, identity.shift]))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*ESS/S below.*")
        result: EvaluationResult = evaluator.evaluate(edit_KF)
    k = strengths_K.size
    ess_fraction_K = result.ess_K[:k] / result.n_samples
    trusted_K = np.ones(k, bool) if result.exact else (ess_fraction_K >= ess_threshold) | result.resampled_K[:k]
    admissible_K = admissible_range(strengths_K, trusted_K, IDENTITY_STRENGTH.get(mode))
    return SteeringCurve(hook, int(feature), mode, strengths_K, result.energies_K[:k], result.energy_errors_K[:k],
                         float(result.energies_K[k]), {n: np.asarray(v[:k]) for n, v in result.observables.items()},
                         {n: np.asarray(v[:k]) for n, v in result.observable_errors.items()}, ess_fraction_K,
                         result.resampled_K[:k].copy(), admissible_K, float(ess_threshold), result.exact, result.unit,
                         result.n_samples, result.shift_errors_K[:k])
