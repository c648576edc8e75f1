"""Tests for physlens.lens.geometry: PCA, truncation curves, topography, term matching."""

import jax.numpy as jnp
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.geometry import latent_topography, match_terms, pca, truncation_curve


def _data(B=60, D=6, seed=0):
    rng = np.random.default_rng(seed)
    scales_D = np.array([5.0, 3.0, 2.0, 1.0, 0.5, 0.25])[:D]
    mix_DD, _ = np.linalg.qr(rng.normal(size=(D, D)))
    return rng.normal(size=(B, D)) * scales_D @ mix_DD.T + rng.normal(size=D)


def test_pca_matches_covariance_eigendecomposition():
    X_BD = _data()
    res = pca(X_BD)
    cov_DD = np.cov(X_BD, rowvar=False)
    evals_D, evecs_DD = np.linalg.eigh(cov_DD)
    evals_D, evecs_DD = evals_D[::-1], evecs_DD[:, ::-1]
    np.testing.assert_allclose(res.explained_variance_K, evals_D, rtol=1e-10)
    np.testing.assert_allclose(res.explained_variance_ratio_K, evals_D / evals_D.sum(), rtol=1e-10)
    np.testing.assert_allclose(np.abs(res.components_KD @ evecs_DD), np.eye(6), atol=1e-8)
    np.testing.assert_allclose(res.singular_values_K, np.linalg.svd(X_BD - X_BD.mean(0), compute_uv=False), rtol=1e-12)
    np.testing.assert_allclose(res.projections_BK, (X_BD - X_BD.mean(0)) @ res.components_KD.T, atol=1e-12)
    np.testing.assert_allclose(res.inverse_transform(res.projections_BK), X_BD, atol=1e-12)
    np.testing.assert_allclose(res.transform(X_BD), res.projections_BK, atol=1e-12)
    frame = res.to_frame()
    assert frame.shape == (6, 3) and frame["cumulative_ratio"].iloc[-1] == pytest.approx(1.0)


def test_pca_sign_convention_is_deterministic():
    X_BD = _data(seed=3)
    res, neg = pca(X_BD), pca(-X_BD)
    rows_K = np.arange(6)
    lead_K = np.argmax(np.abs(res.components_KD), axis=1)
    assert np.all(res.components_KD[rows_K, lead_K] > 0)
    np.testing.assert_allclose(neg.components_KD, res.components_KD, atol=1e-10)
    np.testing.assert_allclose(neg.projections_BK, -res.projections_BK, atol=1e-10)


def test_pca_fewer_samples_than_features():
    X_BD = _data(B=4, D=6)
    res = pca(X_BD)
    assert res.components_KD.shape == (4, 6)
    np.testing.assert_allclose(res.components_KD @ res.components_KD.T, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(res.inverse_transform(res.projections_BK), X_BD, atol=1e-12)
    assert res.explained_variance_K[-1] == pytest.approx(0.0, abs=1e-20)


def test_pca_rejects_bad_input():
    with pytest.raises(PhyslensError):
        pca(np.ones(5))
    with pytest.raises(PhyslensError):
        pca(np.array([[0.0, np.nan], [1.0, 2.0]]))


def _readout_np(acts_BD):
    W_D3 = np.linspace(-1.0, 1.0, acts_BD.shape[1] * 3).reshape(-1, 3)
    return np.tanh(acts_BD @ W_D3) @ np.array([1.0, -2.0, 0.5])


def test_truncation_with_every_pc_reproduces_untouched_predictions():
    acts_BD = _data()
    targets_B = _readout_np(acts_BD) + 0.1 * np.random.default_rng(1).normal(size=60)
    curve = truncation_curve(acts_BD, _readout_np, targets_B)
    np.testing.assert_array_equal(curve.ks_K, np.arange(1, 7))
    np.testing.assert_allclose(curve.preds_KB[-1], _readout_np(acts_BD), rtol=0, atol=1e-12)
    np.testing.assert_allclose(curve.preds_full_B, _readout_np(acts_BD), rtol=0, atol=0)
    assert curve.rms_K[-1] == pytest.approx(curve.rms_full, rel=1e-10)
    assert curve.rms_full == pytest.approx(np.sqrt(np.mean((_readout_np(acts_BD) - targets_B) ** 2)))
    assert curve.cumulative_ratio_K[-1] == pytest.approx(1.0)
    assert list(curve.to_frame().columns) == ["rms", "cumulative_ratio"]


def test_truncation_matches_reference_projection_loop():
    acts_BD = _data(seed=5)
    targets_B2 = np.stack([_readout_np(acts_BD), -_readout_np(acts_BD) ** 2], axis=1)
    targets_B2[::7, 1] = np.nan

    def readout(acts_BD):
        return jnp.stack([_readout_np(np.asarray(acts_BD)), jnp.zeros(acts_BD.shape[0])], axis=1)

    curve = truncation_curve(acts_BD, readout, targets_B2, ks=[1, 3])
    evals_D, evecs_DD = np.linalg.eigh(np.cov(acts_BD, rowvar=False))
    V_DD = evecs_DD[:, ::-1]
    mean_D = acts_BD.mean(0)
    mask = np.isfinite(targets_B2)
    for n, k in enumerate([1, 3]):
        proj_BD = mean_D + (acts_BD - mean_D) @ V_DD[:, :k] @ V_DD[:, :k].T
        preds_B2 = np.asarray(readout(proj_BD))
        np.testing.assert_allclose(curve.preds_KB[n], preds_B2, atol=1e-12)
        err2 = (preds_B2 - targets_B2)[mask] ** 2
        assert curve.rms_K[n] == pytest.approx(np.sqrt(err2.mean()), rel=1e-12)


def test_truncation_rejects_bad_ks_and_shapes():
    acts_BD = _data()
    with pytest.raises(PhyslensError):
        truncation_curve(acts_BD, _readout_np, _readout_np(acts_BD), ks=[0])
    with pytest.raises(PhyslensError):
        truncation_curve(acts_BD, _readout_np, np.zeros(59))


def test_topography_of_a_linear_and_a_quadratic_model():
    emb_TD = _data(B=30, seed=7)
    basis = pca(emb_TD)
    w_D = np.arange(1.0, 7.0)
    ci, cj = np.linspace(-2.0, 2.0, 5), np.linspace(-1.0, 3.0, 4)
    topo = latent_topography(basis, lambda row: jnp.dot(row, w_D), pcs=(2, 0), coords=(ci, cj))
    expected_GH = basis.mean_D @ w_D + np.outer(ci, np.ones(4)) * (basis.components_KD[2] @ w_D)
    expected_GH += np.outer(np.ones(5), cj) * (basis.components_KD[0] @ w_D)
    np.testing.assert_allclose(topo.values_GH, expected_GH, atol=1e-12)
    np.testing.assert_allclose(topo.data_coords_B2, basis.projections_BK[:, [2, 0]])

    quad = latent_topography(basis, lambda rows: np.sum(rows**2, axis=1), pcs=(0, 1), n=6, batched=True)
    for g, a in enumerate(quad.coords_i_G):
        for h, b in enumerate(quad.coords_j_H):
            row_D = basis.mean_D + a * basis.components_KD[0] + b * basis.components_KD[1]
            assert quad.values_GH[g, h] == pytest.approx(row_D @ row_D, rel=1e-12)
    lo, hi = basis.projections_BK[:, 0].min(), basis.projections_BK[:, 0].max()
    assert quad.coords_i_G[0] == pytest.approx(lo - 0.1 * (hi - lo))
    assert quad.coords_i_G[-1] == pytest.approx(hi + 0.1 * (hi - lo))
    assert quad.to_frame().shape == (36, 3)
    with pytest.raises(PhyslensError):
        latent_topography(basis, lambda row: row.sum(), pcs=(1, 1))


def _orthonormal_centred(S, n, seed):
    rng = np.random.default_rng(seed)
    M_Sn = rng.normal(size=(S, n))
    M_Sn -= M_Sn.mean(0)
    Q_Sn, _ = np.linalg.qr(M_Sn)
    return Q_Sn.T


def test_match_terms_on_constructed_vectors():
    a_S, b_S, c_S = _orthonormal_centred(200, 3, seed=11)
    theta = 0.6
    features_SF = np.stack([3.0 * a_S + 5.0, -2.0 * b_S, np.cos(theta) * a_S + np.sin(theta) * c_S], axis=1)
    match = match_terms(features_SF, {"a": a_S + 1.0, "b": b_S}, feature_names=["pc0", "pc1", "pc2"])
    expected_FT = np.array([[1.0, 0.0], [0.0, -1.0], [np.cos(theta), 0.0]])
    np.testing.assert_allclose(match.similarity_FT, expected_FT, atol=1e-12)
    np.testing.assert_array_equal(match.best_term_F, [0, 1, 0])
    np.testing.assert_allclose(match.best_cos_F, [1.0, -1.0, np.cos(theta)], atol=1e-12)
    assert match.best_frame()["term"].tolist() == ["a", "b", "a"]
    assert match.to_frame().loc["pc2", "a"] == pytest.approx(np.cos(theta))


def test_match_terms_uncentred_is_plain_cosine():
    rng = np.random.default_rng(2)
    features_SF, t_S = rng.normal(size=(50, 3)) + 1.0, rng.normal(size=50) + 2.0
    match = match_terms(features_SF, {"t": t_S}, centre=False)
    for f in range(3):
        x_S = features_SF[:, f]
        cos = sum(x * y for x, y in zip(x_S, t_S)) / np.sqrt(sum(x * x for x in x_S) * sum(y * y for y in t_S))
        assert match.similarity_FT[f, 0] == pytest.approx(cos, rel=1e-12)
    assert match.feature_names == ("F0", "F1", "F2")


def test_match_terms_rejects_constant_term_and_wrong_length():
    features_SF = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(PhyslensError, match="'flat'"):
        match_terms(features_SF, {"ok": np.arange(20.0), "flat": np.full(20, 0.1)})
    with pytest.raises(PhyslensError):
        match_terms(features_SF, {"ok": np.arange(20.0), "short": np.arange(19.0)})
