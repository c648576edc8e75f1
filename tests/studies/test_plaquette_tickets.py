"""Training from the toric code's plaquette mask: the starts are the hand-built network, energies are exact."""

import dataclasses

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.quantum.plaquette_network import plaquette_network
from physlens.studies.lottery_config import PRESETS
from physlens.studies.plaquette_tickets import plaquette_start, run_plaquette_check

CONFIG = dataclasses.replace(PRESETS["barton-toric-a8"], size=2, widths=(40,), seeds=(0,), samples=256)


def test_start_is_the_hand_built_network_on_the_first_units():
    params, mask = plaquette_start(PRESETS["barton-toric-a8"], 1.5)
    kernel = params["layers.0"]["kernel"]
    assert kernel.shape == (18, 144) and mask.kept == 288 and mask.density == pytest.approx(288 / 2592)
    system = PRESETS["barton-toric-a8"].build_system()
    _, hand = plaquette_network(system, 1.5)
    np.testing.assert_array_equal(kernel[:, :72], hand["layers.0"]["kernel"])
    assert np.all(kernel[:, 72:] == 0) and np.array_equal(mask.leaves()["layers.0/kernel"], kernel != 0)


def test_the_exact_start_stays_exact_and_energies_are_full_sums():
    frame = run_plaquette_check(CONFIG, weights=(3.0,), steps=5)
    exact = frame[frame.start == "exact-w3"].iloc[0]
    assert exact.energy_before == pytest.approx(-8.0, abs=1e-9) and exact.energy == pytest.approx(-8.0, abs=1e-9)
    random = frame[frame.start == "random"].iloc[0]
    assert random.kept == 128 and random.rel_error_before > 0.1
    assert set(frame.training) == {CONFIG.training_method}


def test_other_systems_and_networks_are_refused():
    with pytest.raises(PhyslensError, match="toric code"):
        run_plaquette_check(PRESETS["barton-4x4-a1"], steps=1)
    with pytest.raises(PhyslensError, match="at least 72 units"):
        plaquette_start(dataclasses.replace(PRESETS["barton-toric-a8"], widths=(16,)), 1.0)
