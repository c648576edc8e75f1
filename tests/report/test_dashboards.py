"""Tests of the feature dashboards: pages written from data, top configurations, links."""

import re

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.steering import SteeringCurve
from physlens.report.dashboards import FeatureView, top_indices, write_dashboards


def curve() -> SteeringCurve:
    s_K = np.linspace(0, 2, 5)
    return SteeringCurve("resid.final", 3, "scale", s_K, -2 - 0.01 * (s_K - 1) ** 2, np.full(5, 1e-3), -2.0,
                         {"m": 0.1 * s_K}, {"m": np.full(5, 0.01)}, np.array([0.05, 0.5, 1, 0.5, 0.05]),
                         np.zeros(5, bool), np.array([0, 1, 1, 1, 0], bool), 0.1, False, "J", 100, np.full(5, 1e-4))


def views(coords_ND):
    rng = np.random.default_rng(0)
    sigma_SN = rng.choice([-1, 1], size=(50, len(coords_ND)))
    acts_S = np.maximum(rng.normal(size=50), 0)
    return [FeatureView(3, acts_S, None, sigma_SN, coords_ND, np.array([0.9, -0.2]), ("m", "|m|"), "m (r = +0.90)", curve()),
            FeatureView(7, acts_S[::-1].copy(), np.ones(50), sigma_SN, coords_ND, np.array([0.1, 0.3]), ("m", "|m|"),
                        "|m| (r = +0.30)")]


def test_top_indices_are_distinct_and_ordered():
    sigma_SN = np.array([[1, 1], [1, -1], [1, 1], [-1, -1], [-1, 1]])
    acts_S = np.array([5.0, 1.0, 4.0, 3.0, 0.0])
    np.testing.assert_array_equal(top_indices(acts_S, sigma_SN, 3), [0, 3, 1])


@pytest.mark.parametrize("coords_ND", [np.arange(8.0)[:, None], np.stack(np.meshgrid(range(3), range(3)), -1).reshape(-1, 2)])
def test_pages_are_written_with_figures_and_tables(tmp_path, coords_ND):
    links = write_dashboards(views(coords_ND), tmp_path / "features", "SAE test", ["exact"])
    assert [href for href, _ in links] == ["features/feature_0003.html", "features/feature_0007.html"]
    steered = (tmp_path / links[0][0]).read_text()
    plain = (tmp_path / links[1][0]).read_text()
    assert len(re.findall("<img ", steered)) == 4 and len(re.findall("<img ", plain)) == 3
    assert "Steering" in steered and "Steering" not in plain
    assert "0.9" in steered and "admissible" in steered


def test_no_views_raises(tmp_path):
    with pytest.raises(PhyslensError):
        write_dashboards([], tmp_path, "t")
