"""Steering along a direction of activation space: an SAE feature against a linear probe of the same norm.

Adding s to SAE feature f with the error term kept rewrites the hook's activation as
x ↦ x + decode(z + s e_f) − decode(z) = x + s d_f, with d_f = W_dec[f] · rms_norm the
feature's direction in input units (the SAE's decoder is affine). So a feature's ``add``
steering curve is an ``AddDirection`` curve along d_f, and the natural control is the same
curve along the linear probe's direction of the same norm (``physlens.lens.probes``):
if the feature steers an observable more cleanly than the probe, it moves the observable
further for the same energy cost. ``direction_curves`` evaluates any named directions at K
strengths in one batched call of an evaluator on the plain model (exact or reweighted);
``quiet_range`` is the contiguous range of strengths around 0 where |ΔE|/|E| stays under a
tolerance, and the observable's change across it.

Usage::

    directions = {"feature": feature_direction(sae, 12)}
    directions["probe"] = probe_direction(probe.coef_D, np.linalg.norm(directions["feature"]))
    frame = direction_curves(evaluator, "resid.final", directions, np.linspace(-2, 2, 41))
    quiet_range(frame, "feature", "abs_m_s", tolerance=2e-4)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.lens.interventions import AddDirection, Intervention
from physlens.lens.sae import SAE

if TYPE_CHECKING:
    from physlens.lens.evaluate import ExactEvaluator
    from physlens.lens.sampled import SampledEvaluator

QUIET = 2e-4
"""|ΔE|/|E| below which a steered state counts as keeping the energy (the published study's 0.02 %)."""


def feature_direction(sae: SAE, feature: int) -> np.ndarray:
    """d_f = W_dec[f] · rms_norm: what adding 1 to feature f adds to the activation, in input units, ``(D,)``."""
    W_dec_FD = np.asarray(sae.params["W_dec"])
    if not 0 <= feature < W_dec_FD.shape[0]:
        raise PhyslensError(f"feature {feature} out of range; the SAE has features 0..{W_dec_FD.shape[0] - 1}")
    return W_dec_FD[feature] * float(np.asarray(sae.rms_norm))


def probe_direction(coef_D: np.ndarray, norm: float) -> np.ndarray:
    """The probe's weight vector rescaled to Euclidean norm ``norm`` (input units), ``(D,)``."""
    coef_D = np.asarray(coef_D, dtype=float)
    length = np.linalg.norm(coef_D)
    if not length > 0:
        raise PhyslensError("the probe has no direction (all coefficients are 0)")
    return coef_D * (norm / length)


def direction_curves(evaluator: ExactEvaluator | SampledEvaluator, hook: str, directions: Mapping[str, np.ndarray],
                     strengths: np.ndarray) -> pd.DataFrame:
    """E and the evaluator's observables along each named direction at every strength, in one batched evaluation.

    Returns one row per (direction, strength): ``direction``, ``strength`` (the coefficient α of ``AddDirection``),
    ``energy`` (the evaluator's unit), ``rel_energy_dev`` |E − E_0|/|E_0| against the unsteered model and its standard
    error ``rel_energy_dev_err`` (0 when exact, paired over the shared samples when reweighted), ``ess_fraction``
    (inf when exact) and one column per observable.
    """
    strengths_K = np.sort(np.asarray(strengths, dtype=float).reshape(-1))
    if not directions or strengths_K.size < 1 or not np.all(np.isfinite(strengths_K)):
        raise PhyslensError("need one or more named directions and finite strengths")
    interventions: list[Intervention] = [AddDirection(hook, direction=np.zeros_like(next(iter(directions.values()))))]
    labels = []
    for name, direction_D in directions.items():
        for s in strengths_K:
            interventions.append(AddDirection(hook, direction=np.asarray(direction_D, dtype=float), alpha=float(s)))
            labels.append((name, float(s)))
    result = evaluator.evaluate(interventions)
    reference = float(result.energies_K[0])
    frame = pd.DataFrame(labels, columns=["direction", "strength"])
    frame["energy"] = result.energies_K[1:]
    frame["rel_energy_dev"] = np.abs(frame.energy - reference) / abs(reference)
    frame["rel_energy_dev_err"] = result.shift_errors_K[1:] / abs(reference)
    frame["ess_fraction"] = np.inf if result.exact else result.ess_K[1:] / result.n_samples
    for name, values in result.observables.items():
        if np.ndim(values) == 1:
            frame[name] = values[1:]
    return frame


def quiet_range(frame: pd.DataFrame, direction: str, observable: str, tolerance: float = QUIET) -> dict:
    """The contiguous strengths around 0 (the unsteered point) where ``rel_energy_dev`` ≤ ``tolerance``, and the
    observable's values at its ends: ``s_low``, ``s_high``, ``obs_low``, ``obs_high``, ``obs_span`` (NaN when even
    the strength nearest 0 exceeds the tolerance)."""
    part = frame[frame.direction == direction].sort_values("strength").reset_index(drop=True)
    if part.empty or observable not in part:
        raise PhyslensError(f"no curve for direction {direction!r} with observable {observable!r}")
    quiet = part.rel_energy_dev.to_numpy() <= tolerance
    centre = int(np.argmin(np.abs(part.strength.to_numpy())))
    if not quiet[centre]:
        return {"s_low": np.nan, "s_high": np.nan, "obs_low": np.nan, "obs_high": np.nan, "obs_span": np.nan}
    low = centre
    while low > 0 and quiet[low - 1]:
        low -= 1
    high = centre
    while high < len(part) - 1 and quiet[high + 1]:
        high += 1
    values = part[observable].to_numpy()
    return {"s_low": float(part.strength[low]), "s_high": float(part.strength[high]), "obs_low": float(values[low]),
            "obs_high": float(values[high]), "obs_span": float(abs(values[high] - values[low]))}
