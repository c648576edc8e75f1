"""Targets: one row per (nucleus, task) with a value, the auxiliary Z and N targets, and the split over nuclei."""

import numpy as np

from physlens.nuclear.data import load_ame2020
from physlens.nuclear.targets import load_data
from physlens.nuclear.training_config import NuclearTrainConfig


def test_auxiliary_targets_are_the_nucleon_numbers_and_b_is_the_measured_binding():
    data = load_data(NuclearTrainConfig(tasks=("B", "Z", "N"), binding_target="per_nucleon"))
    table = load_ame2020(experimental_only=True, zmin=8, nmin=8)
    for k, task in enumerate(data.tasks):
        rows = data.x_R3[:, 2] == k
        assert rows.sum() == len(table)
        if task in ("Z", "N"):
            np.testing.assert_array_equal(data.y_R[rows], data.x_R3[rows, 0 if task == "Z" else 1])
            assert (data.unit_R[rows] == 1).all()
    b_rows = data.x_R3[:, 2] == 0
    np.testing.assert_allclose(data.y_R[b_rows] * data.unit_R[b_rows], table.B.to_numpy() / 1000, rtol=1e-12)
    assert np.issubdtype(data.nuclei.Z.dtype, np.integer) and np.issubdtype(data.nuclei.N.dtype, np.integer)


def test_all_nuclei_in_training_leaves_none_held_out():
    data = load_data(NuclearTrainConfig(train_fraction=1.0))
    assert data.train_R.all() and data.nuclei.train.all()
