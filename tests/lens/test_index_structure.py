"""Tests for physlens.lens.index_structure: orderedness along PC0 and parity split."""

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.index_structure import orderedness, parity_split


def _embed(coords_TN, D, seed=0):
    """Place N-dimensional coordinates isometrically in D dimensions, with an offset."""
    rng = np.random.default_rng(seed)
    Q_DN, _ = np.linalg.qr(rng.normal(size=(D, coords_TN.shape[1])))
    return coords_TN @ Q_DN.T + rng.normal(size=D)


# PC0 coordinates c = [0, 2, 1, 3, 5, 4] for rows 0..5, plus a weaker, uncorrelated second
# direction, so PC0 is the first axis. Ranks differ from the index by d = [0, 1, -1, 0, 1, -1]:
# ρ = 1 − 6·Σd²/(T(T²−1)) = 1 − 24/210 = 31/35. Steps: up, down, up, up, down → 3/5.
_C_T = np.array([0.0, 2.0, 1.0, 3.0, 5.0, 4.0])
_Y_T = np.array([0.1, -0.1, -0.1, 0.1, 0.0, 0.0])


def test_orderedness_hand_example():
    emb_TD = _embed(np.stack([_C_T, _Y_T], axis=1), D=5)
    res = orderedness(emb_TD)
    assert res.spearman == pytest.approx(31 / 35, rel=1e-12)
    assert res.consecutive == pytest.approx(3 / 5)
    np.testing.assert_allclose(np.abs(res.pc0_T), np.abs(_C_T - _C_T.mean()), atol=1e-12)
    assert res.to_frame().shape == (6, 2)


def test_orderedness_is_sign_and_row_order_invariant():
    emb_TD = _embed(np.stack([-_C_T, _Y_T], axis=1), D=4, seed=1)
    perm_T = np.array([3, 0, 5, 1, 4, 2])
    res = orderedness(emb_TD[perm_T], index_T=perm_T + 20)
    assert res.spearman == pytest.approx(31 / 35, rel=1e-12)
    assert res.consecutive == pytest.approx(3 / 5)
    np.testing.assert_array_equal(res.index_T, np.arange(20, 26))


def test_orderedness_of_a_monotone_curve_is_one():
    t_T = np.arange(10.0)
    res = orderedness(_embed(np.stack([t_T**3, np.sin(t_T)], axis=1), D=3))
    assert res.spearman == pytest.approx(1.0)
    assert res.consecutive == 1.0


def test_parity_split_hand_example():
    # even rows 0, 2 at x = 0, 1; odd rows 1, 3 at x = 10, 12.
    # d(e,e) = 1, d(o,o) = 2, d(e,o) = (10 + 12 + 9 + 11)/4 = 10.5 → R_P = 21/3 = 7.
    emb_TD = _embed(np.array([[0.0], [10.0], [1.0], [12.0]]), D=3)
    res = parity_split(emb_TD)
    assert res.ratio == pytest.approx(7.0, rel=1e-12)
    assert (res.d_even_even, res.d_odd_odd, res.d_even_odd) == pytest.approx((1.0, 2.0, 10.5), rel=1e-12)
    assert (res.n_even, res.n_odd) == (2, 2)
    assert res.to_frame().loc["odd", "even"] == pytest.approx(10.5)


def test_parity_split_follows_index_parity_and_two_dimensional_example():
    # index 1, 3, 5 are odd at (0,0), (0,2), (2,0): distances 2, 2, 2√2 → d(o,o) = (4 + 2√2)/3.
    # index 2, 4 are even at (0,1), (3,1): d(e,e) = 3.
    # d(e,o): from (0,1): 1, 1, √5; from (3,1): √10, √10, √2 → sum/6.
    pts_TN = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 2.0], [3.0, 1.0], [2.0, 0.0]])
    res = parity_split(_embed(pts_TN, D=6, seed=4), index_T=np.arange(1, 6))
    d_oo, d_ee = (4 + 2 * np.sqrt(2)) / 3, 3.0
    d_eo = (2 + np.sqrt(5) + 2 * np.sqrt(10) + np.sqrt(2)) / 6
    assert res.ratio == pytest.approx(2 * d_eo / (d_ee + d_oo), rel=1e-12)
    assert (res.n_even, res.n_odd) == (2, 3)


def test_parity_split_in_leading_pcs():
    # the same x as above plus a small y, centred and uncorrelated with x, so PC0 is x
    # and n_pcs=1 measures |Δx| only.
    pts_TN = np.array([[0.0, 0.4], [10.0, -0.2], [1.0, -0.4], [12.0, 0.2]])
    res = parity_split(pts_TN, n_pcs=1)
    assert res.ratio == pytest.approx(7.0, rel=1e-12)
    with pytest.raises(PhyslensError):
        parity_split(pts_TN, n_pcs=3)


def test_parity_split_needs_two_rows_per_class():
    with pytest.raises(PhyslensError):
        parity_split(np.arange(8.0).reshape(4, 2), index_T=np.array([0, 2, 4, 1]))
    with pytest.raises(PhyslensError):
        orderedness(np.arange(8.0).reshape(4, 2), index_T=np.array([0, 0, 1, 2]))
