"""Fixtures shared by the tests of the dynamics modules: one small evolution and its trajectory SAE."""

import numpy as np
import pytest

import physlens  # noqa: F401  (enables float64)
from physlens.quantum.dynamics import EvolveConfig, evolve, neel_start
from physlens.quantum.quench import Quench
from physlens.quantum.trajectory_features import TrajectoryFeatureConfig, features_over_time

TRAJECTORY_SAE = TrajectoryFeatureConfig(d_sae=8, k=2, n_steps=60, batch_size=256, tokens_per_time=128)
"""The trajectory SAE of ``features``: 8 latents, k = 2."""


@pytest.fixture(scope="session")
def evolution(tmp_path_factory):
    """A 6-site TFIM chain quenched to h = 1 from a random near-ferromagnetic complex RBM, 4 saved times."""
    quench = Quench.tfim(6, h_before=0.5, h_after=1.0)
    _, variables = neel_start(6, np.ones(6), strength=0.4, seed=3)
    config = EvolveConfig(quench=quench.params(), model="netket.RBM:alpha=1.0,param_dtype=complex", t_end=0.3,
                          save_dt=0.1, dt=0.05)
    return evolve(config, tmp_path_factory.mktemp("evolution") / "tfim6", variables)


@pytest.fixture(scope="session")
def features(evolution):
    """``features_over_time`` of ``evolution`` with ``TRAJECTORY_SAE``."""
    return features_over_time(evolution, TRAJECTORY_SAE)
