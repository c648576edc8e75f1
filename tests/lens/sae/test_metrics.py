"""Metrics against a NumPy reference; splicing with the error term reproduces the input exactly."""

import jax.numpy as jnp
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.sae import decode, encode, fidelity, fraction_recovered, reconstruct, sae_metrics, splice


def numpy_metrics(sae, acts, dense_above):
    mean = np.asarray(sae.mean_D)
    latents = np.asarray(encode(sae, jnp.asarray(acts)))
    recon = np.asarray(decode(sae, jnp.asarray(latents)))
    freq = (latents > 0).mean(axis=0)
    return {
        "mse": np.mean((acts - recon) ** 2),
        "explained_variance": 1 - np.sum((acts - recon) ** 2) / np.sum((acts - acts.mean(axis=0)) ** 2),
        "l0": np.mean(np.count_nonzero(latents, axis=1)),
        "dead_fraction": np.mean(freq == 0),
        "dense_fraction": np.mean(freq > dense_above),
        "shrinkage": np.linalg.norm(recon - mean, axis=1).sum() / np.linalg.norm(acts - mean, axis=1).sum(),
        "dense_above": dense_above,
        "n_inputs": len(acts),
    }


def test_metrics_match_numpy(random_sae, architecture):
    sae = random_sae(architecture, seed=11)
    acts = 1.0 + 2.0 * np.random.default_rng(11).normal(size=(203, sae.cfg.d_in))
    got = sae_metrics(sae, acts, dense_above=0.3, chunk_size=50)
    expected = numpy_metrics(sae, acts, 0.3)
    for name, value in expected.items():
        assert getattr(got, name) == pytest.approx(value, rel=1e-10, abs=1e-12), name
    assert got.to_frame().shape == (1, 8)


def test_dead_latents_are_counted(random_sae):
    sae = random_sae("relu", seed=1)
    sae = type(sae)(sae.cfg, sae.params | {"b_enc": sae.params["b_enc"].at[:4].set(-1e6)}, sae.mean_D, sae.rms_norm)
    acts = np.random.default_rng(1).normal(size=(64, sae.cfg.d_in))
    assert sae_metrics(sae, acts).dead_fraction >= 0.4


def test_splice_with_error_term_returns_the_input_exactly(random_sae, architecture):
    sae = random_sae(architecture, seed=12)
    acts = jnp.asarray(np.random.default_rng(12).normal(size=(3, 9, sae.cfg.d_in)) * 4.0 + 1.5)
    np.testing.assert_array_equal(splice(sae, acts, keep_error=True), acts)
    np.testing.assert_array_equal(splice(sae, acts, keep_error=True, edit=lambda z: z), acts)
    np.testing.assert_array_equal(splice(sae, acts, keep_error=False), reconstruct(sae, acts))
    assert not np.allclose(splice(sae, acts, keep_error=False), acts)


def test_splice_edit_moves_the_input_by_the_edited_latents(random_sae, architecture):
    sae = random_sae(architecture, seed=13)
    acts = jnp.asarray(np.random.default_rng(13).normal(size=(40, sae.cfg.d_in)) * 2.0)
    z = np.asarray(encode(sae, acts))
    f = int(np.argmax(np.count_nonzero(z, axis=0)))
    ablated = splice(sae, acts, keep_error=True, edit=lambda lat: lat.at[..., f].set(0.0))
    shift = -z[:, f : f + 1] * np.asarray(sae.params["W_dec"])[f] * float(sae.rms_norm)
    np.testing.assert_allclose(ablated - acts, shift, atol=1e-12)


def test_fraction_recovered():
    assert fraction_recovered(10.0, 4.0, 2.0) == 0.75
    assert fraction_recovered(-3.0, -5.0, -5.0) == 1.0
    np.testing.assert_allclose(fraction_recovered(np.array([1.0, 2.0]), np.array([1.0, 0.0]), 0.0), [0.0, 1.0])


def test_bad_metric_arguments_are_refused(random_sae):
    sae = random_sae("topk")
    acts = np.zeros((4, sae.cfg.d_in))
    with pytest.raises(PhyslensError, match="dense_above"):
        sae_metrics(sae, acts, dense_above=1.5)
    with pytest.raises(PhyslensError, match="chunk_size"):
        sae_metrics(sae, acts, chunk_size=0)


def test_fidelity_is_the_normalised_overlap():
    rng = np.random.default_rng(5)
    psi, phi = rng.uniform(0.1, 2.0, size=50), rng.uniform(0.1, 2.0, size=50)
    expected = (psi @ phi) ** 2 / ((psi @ psi) * (phi @ phi))
    assert fidelity(np.log(psi), np.log(phi) + 3.0, psi**2) == pytest.approx(expected, rel=1e-12)
    assert fidelity(np.log(psi), np.log(psi) - 1.0, psi**2) == pytest.approx(1.0, rel=1e-12)
    # samples of |ψ|²: the uniform-weight estimate converges to the exact overlap
    samples = rng.choice(50, size=200_000, p=psi**2 / (psi @ psi))
    assert fidelity(np.log(psi[samples]), np.log(phi[samples])) == pytest.approx(expected, rel=1e-2)
    with pytest.raises(PhyslensError):
        fidelity(np.zeros(3), np.zeros(4))
