"""Embedding geometry: orderedness and parity over the rows that occur, helix fits over all rows and over a range."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from physlens.errors import PhyslensError
from physlens.nuclear import embeddings


def test_index_structure_uses_the_rows_that_occur():
    rng = np.random.default_rng(0)
    variables = {"params": {f"embed_{w}": {"embedding": rng.normal(size=(40, 6))} for w in ("Z", "N")}}
    nuclei = pd.DataFrame({"Z": [8, 9, 9, 12, 20, 31], "N": [8, 10, 11, 14, 22, 39]})
    row = embeddings.index_structure_row(variables, nuclei)
    Z_T = np.unique(nuclei.Z)
    emb = variables["params"]["embed_Z"]["embedding"][Z_T]
    centred = emb - emb.mean(axis=0)
    pc0 = centred @ np.linalg.eigh(centred.T @ centred)[1][:, -1]
    assert row["orderedness_Z"] == pytest.approx(abs(spearmanr(Z_T, pc0).statistic), rel=1e-9)


def test_slow_helix_sees_past_the_parity_zigzag():
    t_T = np.arange(8, 121)
    angle_T = 2 * np.pi * t_T / 40.0
    emb_TD = np.zeros((t_T.size, 5))
    emb_TD[:, 0] = np.cos(angle_T) + 1.5 * (-1.0) ** t_T
    emb_TD[:, 1] = np.sin(angle_T)
    emb_TD[:, 2] = 0.03 * t_T
    emb_TD += 1e-3 * np.random.default_rng(0).normal(size=emb_TD.shape)
    geometry = embeddings.embedding_geometry(emb_TD, t_T, "N")
    assert 1.0 / geometry.helix.frequency == pytest.approx(2.0, rel=1e-3)
    assert 1.0 / geometry.slow_helix.frequency == pytest.approx(40.0, rel=1e-2)
    assert geometry.slow_helix.radius == pytest.approx(1.0, rel=0.05)
    row = geometry.row()
    assert row["slow_helix_turns_N"] == pytest.approx(112 / 40.0, rel=1e-2)
    assert row["helix_period_N"] == pytest.approx(2.0, rel=1e-3)


def test_range_helix_fits_only_the_papers_range():
    """A helix of radius 1 and period 20 over N = 40 … 120, with the radius growing linearly outside it: the fit
    over the paper's range recovers the helix exactly, the fit over all rows does not."""
    t_T = np.arange(8, 161).astype(float)
    radius_T = 1.0 + 0.05 * np.clip(40 - t_T, 0, None) + 0.05 * np.clip(t_T - 120, 0, None)
    angle_T = 2 * np.pi * t_T / 20.0
    emb_TD = np.stack([radius_T * np.cos(angle_T), radius_T * np.sin(angle_T), 0.02 * t_T, np.zeros_like(t_T)], axis=1)
    geometry = embeddings.embedding_geometry(emb_TD, t_T.astype(int), "N")
    assert geometry.fit_range == (40, 120)
    fit = geometry.range_helix
    assert 1.0 / fit.frequency == pytest.approx(20.0, rel=1e-6) and fit.radius == pytest.approx(1.0, rel=1e-6)
    assert fit.r2 == pytest.approx(1.0, abs=1e-9) and fit.turns == pytest.approx(80 / 20.0, rel=1e-6)
    assert geometry.slow_helix.r2 < 0.99
    row = geometry.row()
    assert (row["range_helix_from_N"], row["range_helix_to_N"]) == (40, 120)
    assert row["range_helix_turns_N"] == pytest.approx(4.0, rel=1e-6)
    assert embeddings.embedding_geometry(emb_TD[:5], t_T[:5].astype(int), "N").range_helix is None
    with pytest.raises(PhyslensError, match="low < high"):
        embeddings.embedding_geometry(emb_TD, t_T.astype(int), "N", fit_range=(120, 40))
