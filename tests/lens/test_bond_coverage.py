"""The bonds a pruned first layer spans, against a hand count and a loop over units and bonds."""

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.bond_coverage import bond_coverage

CHAIN_BONDS = np.array([[0, 1], [1, 2], [2, 3]])


def chain_mask(*supports: tuple[int, ...]) -> np.ndarray:
    keep_NM = np.zeros((4, len(supports)))
    for j, sites in enumerate(supports):
        keep_NM[list(sites), j] = 0.7
    return keep_NM


def test_hand_counted_chain():
    coverage = bond_coverage(chain_mask((0, 1), (1, 2, 3), (3,), (0, 2), ()), CHAIN_BONDS)
    np.testing.assert_array_equal(coverage.units_per_bond_E, [1, 1, 1])
    np.testing.assert_array_equal(coverage.support_M, [2, 3, 1, 2, 0])
    assert coverage.n_covered == 3 and coverage.uncovered == []
    assert coverage.to_row() == {"bonds": 3, "bonds_covered": 3, "units_alive": 4, "single_site_units": 1,
                                 "bond_units": 1, "other_pair_units": 1, "wider_units": 1}
    without_the_wide_unit = bond_coverage(chain_mask((0, 1), (3,), (0, 2)), CHAIN_BONDS)
    assert without_the_wide_unit.uncovered == [(1, 2), (2, 3)]


def test_random_square_lattice_mask_against_a_loop():
    rng = np.random.default_rng(4)
    L = 4
    bonds = np.array([(x * L + y, x * L + y + 1) for x in range(L) for y in range(L - 1)]
                     + [(x * L + y, (x + 1) * L + y) for x in range(L - 1) for y in range(L)])
    keep_NM = rng.random((16, 64)) < 0.12
    coverage = bond_coverage(keep_NM, bonds)
    expected_E = [sum(keep_NM[i, j] and keep_NM[k, j] for j in range(64)) for i, k in bonds]
    np.testing.assert_array_equal(coverage.units_per_bond_E, expected_E)
    on_bond = [keep_NM[:, j].sum() == 2 and any(keep_NM[i, j] and keep_NM[k, j] for i, k in bonds) for j in range(64)]
    np.testing.assert_array_equal(coverage.on_bonds_M, on_bond)


def test_bonds_outside_the_mask_are_refused():
    with pytest.raises(PhyslensError, match=r"sites in \[0, N\)"):
        bond_coverage(chain_mask((0, 1)), np.array([[3, 4]]))
