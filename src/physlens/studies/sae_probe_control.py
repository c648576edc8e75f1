"""Does the best SAE feature steer its observable more cleanly than a linear probe of the same activations?

The control of a feature-steering result: along the feature's direction d_f (adding s to
the feature, ``physlens.lens.direction_steering``) and along the direction of the linear
probe of the target observable on the same (token-mean) activations, rescaled to the norm
of d_f, the energy and the observables are evaluated at the same strengths (exact over the
basis, or reweighted from the study's samples). For each direction, ``quiet`` gives the
range of strengths around 0 where |ΔE|/|E| ≤ 2·10⁻⁴ and how far the target moves across it:
the direction that moves it further within the same energy band steers more cleanly.

Strengths are in units of the feature's Born-weighted mean activation (so s = ±1 adds or
removes a typical activation of the feature).

Usage::

    control = probe_control(study, system, model, variables)
    control.quiet, control.frame, control.probe_r
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import flax.linen as nn
import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.lens.direction_steering import QUIET, direction_curves, feature_direction, probe_direction, quiet_range
from physlens.lens.interventions import LensLogPsi
from physlens.lens.probes import linear_probe
from physlens.quantum.registry import lens_of

if TYPE_CHECKING:
    from physlens.quantum.systems import SpinSystem
    from physlens.studies.sae_steering import SAEStudy

RELATIVE_STRENGTHS = np.round(np.union1d(np.linspace(-3.0, 3.0, 25), np.linspace(-0.25, 0.25, 21)), 6)
"""Default strengths, in units of the feature's mean activation: steps of 0.25 over [−3, 3] and of 0.025 over
[−0.25, 0.25], where the quiet band of a well-converged network lies (on the 4×4 model at ε = 5e-4 both
directions leave |ΔE|/|E| ≤ 2·10⁻⁴ before ±0.25)."""


@dataclass(frozen=True)
class ProbeControl:
    """The feature and the probe direction steered side by side.

    Attributes:
        target: the observable both are judged on.
        probe_r: r of the linear probe of the target on the token-mean activations.
        typical: the feature's Born-weighted mean activation (the unit of the strengths).
        frame: ``direction_steering.direction_curves`` of ``feature`` and ``probe``.
        quiet: per direction, the quiet range of strengths and the target's change across it.
    """

    target: str
    probe_r: float
    typical: float
    frame: pd.DataFrame
    quiet: pd.DataFrame


def probe_control(study: SAEStudy, system: SpinSystem, model: nn.Module, variables: Any,
                  relative_strengths: np.ndarray = RELATIVE_STRENGTHS, tolerance: float = QUIET) -> ProbeControl:
    """Steer ``study``'s best feature for its target and the target's linear-probe direction of the same norm."""
    from physlens.studies.sae_steering import diagonal_observables, evaluator_of

    data, target, feature = study.data, study.target, study.feature
    acts = np.asarray(data.acts)
    pooled_SD = acts.mean(axis=1) if acts.ndim == 3 else acts
    weights_S = data.weights_S if data.exact else None
    probe = linear_probe(pooled_SD, data.observables[target], weights_S)
    w_S = np.ones(len(pooled_SD)) if weights_S is None else np.asarray(weights_S, dtype=float)
    typical = float(w_S @ study.latents_SF[:, feature] / w_S.sum())
    if not typical > 0:
        raise PhyslensError(f"feature {feature} is never active; nothing to steer")
    d_f = feature_direction(study.sae, feature)
    directions = {"feature": d_f, "probe": probe_direction(probe.coef_D, float(np.linalg.norm(d_f)))}
    evaluator = evaluator_of(system, LensLogPsi(lens_of(model, variables)), data, study.config,
                             diagonal_observables(system, data))
    frame = direction_curves(evaluator, study.config.hook, directions, typical * np.asarray(relative_strengths))
    frame.insert(2, "relative_strength", frame.strength / typical)
    quiet = pd.DataFrame([{"direction": name, **quiet_range(frame, name, target, tolerance)} for name in directions])
    return ProbeControl(target, probe.r, typical, frame, quiet)
