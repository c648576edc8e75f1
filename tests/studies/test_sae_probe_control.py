"""The probe control of a feature-steering result on a tiny exact study."""

import jax
import numpy as np
import pytest

from physlens.quantum.registry import build_model
from physlens.quantum.systems import HeisenbergRing
from physlens.studies.sae_probe_control import probe_control
from physlens.studies.sae_steering import SAEStudyConfig, analyse


@pytest.fixture(scope="module")
def control():
    system = HeisenbergRing(n=8)
    model = build_model("rbm", alpha=1.0)
    variables = jax.tree.map(lambda p: 30 * p, model.init(jax.random.key(0), np.ones((1, 8))))
    cfg = SAEStudyConfig(hook="hidden.pre", d_sae=16, k=2, n_steps=150, batch_size=128, n_samples=256, strengths=(1.0,))
    study = analyse(system, model, variables, cfg)
    return study, probe_control(study, system, model, variables)


def test_both_directions_share_the_strengths_and_the_norm(control):
    study, result = control
    feature = result.frame[result.frame.direction == "feature"]
    probe = result.frame[result.frame.direction == "probe"]
    np.testing.assert_allclose(feature.strength.to_numpy(), probe.strength.to_numpy())
    np.testing.assert_allclose(feature.relative_strength.to_numpy(),
                               np.union1d(np.linspace(-3, 3, 25), np.linspace(-0.25, 0.25, 21)), atol=1e-9)
    at_zero = result.frame[result.frame.relative_strength.abs() < 1e-12]
    np.testing.assert_allclose(at_zero.energy, study.energies["clean"], rtol=1e-10)
    assert 0 <= result.probe_r <= 1 and result.typical > 0


def test_quiet_ranges_contain_zero_and_measure_the_target(control):
    _, result = control
    assert list(result.quiet.direction) == ["feature", "probe"]
    for _, row in result.quiet.iterrows():
        assert row.s_low <= 0 <= row.s_high
        part = result.frame[(result.frame.direction == row.direction) & result.frame.strength.between(row.s_low, row.s_high)]
        assert (part.rel_energy_dev <= 2e-4).all()
        assert row.obs_span == pytest.approx(abs(part[result.target].iloc[-1] - part[result.target].iloc[0]))
