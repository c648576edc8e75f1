"""SEMF pseudo-data: the mass relations reproduce AME2020's own tables, and the SEMF task's targets are the formula."""

import numpy as np
import pytest

from physlens.nuclear.data import load_ame2020
from physlens.nuclear.pseudo_data import HELIUM4_BINDING_MEV, chart_hull, table_binding, task_targets
from physlens.nuclear.targets import load_data
from physlens.nuclear.terms import semf_terms
from physlens.nuclear.training_config import NuclearTrainConfig

DERIVED = ("S_n", "S_p", "S_2n", "S_2p", "Q_alpha", "Q_beta_minus", "Q_EC")


def test_mass_relations_on_measured_masses_give_the_tabulated_values():
    """Applied to AME2020's binding energies, the relations give AME2020's printed S, Q values (to the table's
    rounding, 1.4 keV)."""
    table = load_ame2020()
    assert table[(table.Z == 2) & (table.N == 2)].B.iloc[0] / 1000 == pytest.approx(HELIUM4_BINDING_MEV, abs=1e-6)
    derived = task_targets(table_binding(table.Z, table.N, table.B / 1000), table.Z, table.N)
    for task in DERIVED:
        printed = table[task].to_numpy() / 1000
        both = np.isfinite(printed) & np.isfinite(derived[task])
        assert both.sum() > 3000
        np.testing.assert_allclose(derived[task][both], printed[both], atol=1.5e-3)


def semf_by_hand(nuclei):
    """The SEMF least-squares fit on the training nuclei, done independently with numpy."""
    train = nuclei.train.to_numpy()
    measured = load_ame2020(experimental_only=True, zmin=8, nmin=8)
    terms = semf_terms(measured.Z, measured.N)
    X = np.stack([terms["volume"], -terms["surface"], -terms["coulomb"], -terms["asymmetry"], terms["pairing"]], 1)
    coef, *_ = np.linalg.lstsq(X[train], measured.B.to_numpy()[train] / 1000, rcond=None)
    return lambda Z, N: np.stack([semf_terms(Z, N)[k] * s for k, s in
                                  (("volume", 1), ("surface", -1), ("coulomb", -1), ("asymmetry", -1), ("pairing", 1))],
                                 1) @ coef


def test_semf_targets_are_the_fitted_formula():
    data = load_data(NuclearTrainConfig(target_source="semf"))
    nuclei = data.nuclei
    formula = semf_by_hand(nuclei)
    Z, N = nuclei.Z.to_numpy(), nuclei.N.to_numpy()
    np.testing.assert_allclose(nuclei.B, formula(Z, N), rtol=1e-10)
    np.testing.assert_allclose(nuclei.S_n, formula(Z, N) - formula(Z, N - 1), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(nuclei.Q_alpha, formula(Z - 2, N - 2) + HELIUM4_BINDING_MEV - formula(Z, N),
                               rtol=1e-9, atol=1e-9)
    b_rows = data.x_R3[:, 2] == data.tasks.index("B")
    np.testing.assert_allclose(data.y_R[b_rows], formula(*data.x_R3[b_rows, :2].T), rtol=1e-10)


def test_semf_grid_fills_every_isotope_chain():
    measured = load_data(NuclearTrainConfig()).nuclei
    grid = load_data(NuclearTrainConfig(target_source="semf-grid", tasks=("B",))).nuclei
    assert len(grid) > len(measured)
    for z, chain in grid.groupby("Z"):
        seen = measured.N[measured.Z == z]
        assert chain.N.tolist() == list(range(seen.min(), seen.max() + 1))
    Z_G, N_G = chart_hull([8, 8, 9], [8, 11, 9])
    assert list(zip(Z_G, N_G)) == [(8, 8), (8, 9), (8, 10), (8, 11), (9, 9)]
