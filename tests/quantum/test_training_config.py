"""The training configuration: its checks, step-size schedule, reference energy, sampler and lattice layout."""

import netket as nk
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.quantum import train as training
from physlens.quantum.systems import HeisenbergRing, TFIMChain
from physlens.quantum.training_config import TrainConfig, lattice_shape

RING8_E0 = -3.6510934089  # DESIGN.md reference table


@pytest.mark.parametrize("values,match", [
    ({"mode": "variational"}, "unknown mode"),
    ({"steps": 0}, "steps must be > 0"),
    ({"samples": 100, "chains": 16, "mode": "sampled"}, "multiple of chains"),
    ({"lr": 0.1}, "unknown config key"),
    ({"sr_solver": "lu"}, "unknown sr_solver"),
])
def test_bad_config_is_rejected(values, match):
    with pytest.raises(Exception, match=match):
        training.TrainConfig.from_dict(values)


def test_lattice_shape_follows_the_geometry():
    from physlens.quantum.systems import HeisenbergSquare, ToricCode

    assert lattice_shape(HeisenbergSquare(4)) == (4, 4)
    assert lattice_shape(HeisenbergRing(8)) == (8,)
    assert lattice_shape(ToricCode(2)) == (8,)


def test_given_reference_energy_replaces_diagonalisation():
    cfg = training.TrainConfig(system="tfim-chain", size=40, model="transformer", mode="sampled",
                               reference_energy=-50.0, reference_method="made up for the test")
    reference = cfg.reference(cfg.build_system())
    assert reference["energy"] == -50.0 and reference["method"] == "made up for the test"
    assert reference["n_states"] is None and reference["system"]["n"] == 40
    ring = HeisenbergRing(8)
    assert training.TrainConfig().reference(ring)["energy"] == pytest.approx(RING8_E0, abs=1e-9)


def test_cosine_step_size_against_its_formula():
    cfg = training.TrainConfig(size=8, steps=40, learning_rate=0.05, learning_rate_final=0.01)
    for step in (0, 10, 20, 33, 40, 55):
        t = min(step, 40) / 40
        assert float(cfg.learning_rate_at(step)) == pytest.approx(0.01 + 0.04 * (1 + np.cos(np.pi * t)) / 2, rel=1e-12)
    assert training.TrainConfig(size=8, learning_rate=0.05).learning_rate_at(7) == 0.05
    for bad in (0.0, 0.06):
        with pytest.raises(PhyslensError, match="learning_rate_final"):
            training.TrainConfig(size=8, learning_rate=0.05, learning_rate_final=bad)


def test_sampler_is_the_one_named_with_its_chains():
    chain = TFIMChain(8)
    local = TrainConfig(system="tfim-chain", size=8, sampler="local", chains=4).build_sampler(chain)
    assert isinstance(local, nk.sampler.MetropolisSampler) and isinstance(local.rule, nk.sampler.rules.LocalRule)
    assert local.n_chains == 4
    exchange = TrainConfig(sampler="exchange", chains=8).build_sampler(HeisenbergRing(8))
    assert isinstance(exchange.rule, nk.sampler.rules.ExchangeRule) and exchange.n_chains == 8
    with pytest.raises(PhyslensError, match="single spin flips leave"):
        TrainConfig(sampler="local").build_sampler(HeisenbergRing(8))
