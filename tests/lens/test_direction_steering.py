"""Steering along directions: a feature's add-steering is AddDirection along its decoder row, exactly."""

import jax
import numpy as np
import pandas as pd
import pytest

from physlens.errors import PhyslensError
from physlens.lens.direction_steering import direction_curves, feature_direction, probe_direction, quiet_range
from physlens.lens.hooks import Lens
from physlens.lens.interventions import LensLogPsi
from physlens.lens.sae import TopKConfig, TrainConfig, train_sae
from physlens.lens.steering import SAELogPsi, steering_curve
from physlens.quantum.config_observables import observable_table
from physlens.quantum.evaluators import exact_evaluator_of
from physlens.quantum.registry import build_model
from physlens.quantum.systems import HeisenbergRing

HOOK = "hidden.pre"


def test_feature_add_steering_equals_adding_its_direction():
    system = HeisenbergRing(n=8)
    model = build_model("rbm", alpha=1.0)
    variables = jax.tree.map(lambda p: 10 * p, model.init(jax.random.key(1), np.ones((1, 8))))
    lens = Lens(model, variables)
    basis = np.asarray(system.hilbert.all_states())
    _, cache = lens.run_with_cache(basis, [HOOK])
    sae, _ = train_sae(TopKConfig(d_in=8, d_sae=12, k=3), np.asarray(cache[HOOK]), TrainConfig(n_steps=50, batch_size=64))
    observables = {"abs_m_s": observable_table(system, basis).values["abs_m_s"]}
    strengths = np.linspace(-1.0, 1.0, 5)
    steered = steering_curve(exact_evaluator_of(system, SAELogPsi(lens, sae, HOOK), observables), HOOK, 3, strengths,
                             mode="add")
    frame = direction_curves(exact_evaluator_of(system, LensLogPsi(lens), observables), HOOK,
                             {"feature": feature_direction(sae, 3)}, strengths)
    np.testing.assert_allclose(frame.energy, steered.energies_K, rtol=1e-10)
    np.testing.assert_allclose(frame.abs_m_s, steered.observables["abs_m_s"], rtol=1e-10)
    assert frame.rel_energy_dev[frame.strength == 0].iloc[0] == pytest.approx(0.0, abs=1e-14)


def test_probe_direction_has_the_asked_norm():
    direction = probe_direction(np.array([3.0, 4.0]), 2.0)
    np.testing.assert_allclose(direction, [1.2, 1.6])
    with pytest.raises(PhyslensError, match="no direction"):
        probe_direction(np.zeros(3), 1.0)


def test_quiet_range_is_the_contiguous_run_around_zero():
    frame = pd.DataFrame({"direction": "f", "strength": [-2, -1, 0, 1, 2, 3],
                          "rel_energy_dev": [5e-4, 1e-4, 0.0, 1e-4, 3e-4, 1e-4], "m": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]})
    quiet = quiet_range(frame, "f", "m", tolerance=2e-4)
    assert (quiet["s_low"], quiet["s_high"]) == (-1, 1) and quiet["obs_span"] == pytest.approx(0.2)
    loud = frame.assign(rel_energy_dev=1.0)
    assert np.isnan(quiet_range(loud, "f", "m")["obs_span"])
