"""Filter extent and stabiliser overlap on hand-built masks with known answers."""

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.quantum.filters import stabiliser_overlap, unit_filters
from physlens.quantum.systems import TFIMSquare, ToricCode


def test_extent_of_filters_on_an_open_square():
    system = TFIMSquare(4, pbc=False)
    keep = np.zeros((16, 4), dtype=bool)
    keep[[0, 1], 0] = True          # a bond
    keep[[0, 5], 1] = True          # a diagonal
    keep[[0, 15], 2] = True         # opposite corners, no wrap-around on open boundaries
    ext = unit_filters(np.ones((16, 4)), keep, system)
    np.testing.assert_allclose(ext.extent_M, [1.0, np.sqrt(2), np.sqrt(18), 0.0])
    np.testing.assert_array_equal(ext.n_kept_M, [2, 2, 2, 0])
    assert ext.interaction_range == pytest.approx(1.0)
    assert list(ext.to_frame().within_range) == [True, False, False, True]


def test_toric_filters_use_the_minimum_image_and_match_stabilisers():
    system = ToricCode(3)
    kernel = np.zeros((18, 4))
    keep = np.zeros((18, 4), dtype=bool)
    plaquette, star = system.plaquettes[3], system.stars[5]
    keep[plaquette, 0] = True
    kernel[plaquette, 0] = [0.5, 0.7, -0.4, -0.9]
    keep[star, 1] = True
    kernel[star, 1] = [1.0, -1.0, 2.0, 3.0]
    keep[plaquette[:3], 2] = True
    kernel[plaquette[:3], 2] = [1.0, 1.0, 1.0]
    overlap = stabiliser_overlap(kernel, keep, system)
    assert list(overlap.kind_M) == ["plaquette", "star", "plaquette", "empty"]
    assert overlap.best_plaquette_M[0] == 3 and overlap.best_star_M[1] == 5
    np.testing.assert_allclose(overlap.plaquette_M[:3], [1.0, overlap.plaquette_M[1], 0.75])
    assert overlap.star_M[1] == 1.0 and overlap.plaquette_M[1] < 1.0
    np.testing.assert_array_equal(overlap.negative_M[:3], [2, 1, 0])
    np.testing.assert_array_equal(overlap.sign_product_M[:3], [1, -1, 0])
    ext = unit_filters(kernel, keep, system)
    assert ext.interaction_range == pytest.approx(1.0)
    coords = system.coords
    box = np.array([3.0, 3.0])
    d = coords[:, None] - coords[None]
    d -= box * np.round(d / box)
    dist = np.sqrt((d**2).sum(-1))
    assert ext.extent_M[0] == pytest.approx(dist[np.ix_(plaquette, plaquette)].max()) == pytest.approx(1.0)
    assert ext.extent_M[1] == pytest.approx(dist[np.ix_(star, star)].max()) == pytest.approx(1.0)


def test_overlap_needs_a_toric_code_and_matching_shapes():
    with pytest.raises(PhyslensError):
        stabiliser_overlap(np.ones((16, 2)), np.ones((16, 2)), TFIMSquare(4))
    with pytest.raises(PhyslensError):
        unit_filters(np.ones((15, 2)), np.ones((15, 2)), TFIMSquare(4))
