"""The interaction terms a pruned first layer spans, against a hand count and a loop over units and terms."""

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.term_coverage import term_coverage

CHAIN_BONDS = np.array([[0, 1], [1, 2], [2, 3]])


def chain_mask(*supports: tuple[int, ...], n_sites: int = 4) -> np.ndarray:
    keep_NM = np.zeros((n_sites, len(supports)))
    for j, sites in enumerate(supports):
        keep_NM[list(sites), j] = 0.7
    return keep_NM


def test_hand_counted_chain():
    coverage = term_coverage(chain_mask((0, 1), (1, 2, 3), (3,), (0, 2), ()), CHAIN_BONDS)
    np.testing.assert_array_equal(coverage.units_per_term_E, [1, 1, 1])
    np.testing.assert_array_equal(coverage.support_M, [2, 3, 1, 2, 0])
    assert coverage.n_covered == 3 and coverage.uncovered == []
    assert coverage.to_row() == {"terms": 3, "terms_covered": 3, "units_alive": 4, "term_units": 1,
                                 "single_site_units": 1, "other_pair_units": 1, "wider_units": 1}
    without_the_wide_unit = term_coverage(chain_mask((0, 1), (3,), (0, 2)), CHAIN_BONDS)
    assert without_the_wide_unit.uncovered == [(1, 2), (2, 3)]


def test_hand_counted_four_site_terms():
    plaquettes = np.array([[0, 1, 2, 3], [2, 3, 4, 5]])
    coverage = term_coverage(chain_mask((0, 1, 2, 3), (0, 1, 2, 3, 4), (2, 3, 4), (2, 3), (5,), n_sites=6),
                             plaquettes)
    np.testing.assert_array_equal(coverage.units_per_term_E, [2, 0])
    np.testing.assert_array_equal(coverage.on_terms_M, [True, False, False, False, False])
    assert coverage.uncovered == [(2, 3, 4, 5)]
    assert coverage.to_row() == {"terms": 2, "terms_covered": 1, "units_alive": 5, "term_units": 1,
                                 "single_site_units": 1, "other_pair_units": 1, "wider_units": 2}


@pytest.mark.parametrize("width", [2, 4])
def test_random_mask_against_a_loop(width):
    rng = np.random.default_rng(4)
    terms = np.array([rng.choice(16, width, replace=False) for _ in range(20)])
    keep_NM = rng.random((16, 64)) < (0.12 if width == 2 else 0.4)
    coverage = term_coverage(keep_NM, terms)
    expected_E = [sum(all(keep_NM[i, j] for i in term) for j in range(64)) for term in terms]
    np.testing.assert_array_equal(coverage.units_per_term_E, expected_E)
    assert coverage.n_covered == sum(e > 0 for e in expected_E) > 0
    on_term = [any(set(np.flatnonzero(keep_NM[:, j])) == set(term) for term in terms) for j in range(64)]
    np.testing.assert_array_equal(coverage.on_terms_M, on_term)
    row = coverage.to_row()
    assert row["units_alive"] == sum(row[k] for k in ("term_units", "single_site_units", "other_pair_units",
                                                       "wider_units"))


def test_terms_outside_the_mask_are_refused():
    with pytest.raises(PhyslensError, match=r"sites in \[0, N\)"):
        term_coverage(chain_mask((0, 1)), np.array([[3, 4]]))
