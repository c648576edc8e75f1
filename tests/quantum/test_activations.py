"""Activation datasets: exact Born weights, pooling, sampled statistics, save/load, runs."""

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.quantum.activations import ActivationDataset, activations_from_run, collect_activations, in_chunks
from physlens.quantum.config_observables import observable_table
from physlens.quantum.systems import HeisenbergRing, TFIMChain
from physlens.quantum.train import TrainConfig
from physlens.quantum.transformer import Transformer
from physlens.runs import Run


@pytest.fixture(scope="module")
def ring_model():
    ring = HeisenbergRing(8)
    model = Transformer(lattice_shape=(8,), patch_size=2, d_model=8, n_heads=2)
    v = model.init(jax.random.PRNGKey(3), jnp.ones((1, 8)))
    v = jax.tree_util.tree_map(lambda x: x + 0.3 * jax.random.normal(jax.random.PRNGKey(4), x.shape), v)
    return ring, model, v


def test_exact_dataset_has_born_weights_and_the_exact_energy(ring_model):
    ring, model, v = ring_model
    data = collect_activations(model, v, ring, "resid.final", pool=False)
    sigma_SN = np.asarray(ring.hilbert.all_states())
    log_psi_S = np.asarray(model.apply(v, sigma_SN))
    p_S = np.exp(2 * log_psi_S)
    assert data.method == "exact" and data.exact and not data.pooled and data.acts.shape == (70, 4, 8)
    np.testing.assert_array_equal(data.sigma_SN, sigma_SN)
    assert data.sigma_SN.dtype == np.int8
    np.testing.assert_allclose(data.weights_S, p_S / p_S.sum(), rtol=1e-10)
    np.testing.assert_allclose(data.weights_S @ data.observables["e_loc"], ring.energy_of(log_psi_S), rtol=1e-10)
    pooled = collect_activations(model, v, ring, "resid.final", with_observables=False)
    np.testing.assert_allclose(pooled.acts, data.acts.mean(axis=1), atol=1e-12)
    assert pooled.observables == {}
    tokens_XD, weights_X = data.tokens_flat()
    assert tokens_XD.shape == (280, 8)
    np.testing.assert_allclose(weights_X.sum(), 1.0)
    with pytest.raises(PhyslensError, match="tokens need"):
        pooled.tokens_flat()


def test_sampled_dataset_estimates_the_exact_averages():
    chain = TFIMChain(8, h=0.8)
    model = Transformer(lattice_shape=(8,), patch_size=2, d_model=8, n_heads=2)
    v = model.init(jax.random.PRNGKey(0), jnp.ones((1, 8)))
    v = jax.tree_util.tree_map(lambda x: x + 0.5 * jax.random.normal(jax.random.PRNGKey(1), x.shape), v)
    data = collect_activations(model, v, chain, "pooled", method="sampled", n_samples=4096, chains=16, seed=2)
    assert data.method == "sampled" and data.acts.shape == (4096, 8)
    np.testing.assert_allclose(data.weights_S, 1 / 4096)
    sigma_SN = np.asarray(chain.hilbert.all_states())
    p_S = np.exp(2 * np.asarray(model.apply(v, sigma_SN)))
    p_S /= p_S.sum()
    exact = observable_table(chain, sigma_SN).values
    for name in ("c_nn", "abs_m_z", "domain_walls"):
        sample = data.observables[name]
        # Markov-chain samples: allow 6 naive standard errors for autocorrelation
        assert abs(sample.mean() - p_S @ exact[name]) < 6 * sample.std() / np.sqrt(len(sample)), name


def test_save_load_round_trip(ring_model, tmp_path):
    ring, model, v = ring_model
    data = collect_activations(model, v, ring, "layers.0.mlp.out", pool=False)
    data.save(tmp_path / "acts.npz")
    back = ActivationDataset.load(tmp_path / "acts.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["acts.npz"]
    for name in ("sigma_SN", "weights_S", "log_psi_S", "acts"):
        np.testing.assert_array_equal(getattr(back, name), getattr(data, name))
        assert getattr(back, name).dtype == getattr(data, name).dtype
    assert back.observables.keys() == data.observables.keys()
    for name in data.observables:
        np.testing.assert_array_equal(back.observables[name], data.observables[name])
    assert (back.method, back.hook, back.pooled, back.unit, back.system, back.observable_units) == \
        (data.method, data.hook, data.pooled, data.unit, data.system, data.observable_units)
    with pytest.raises(PhyslensError, match="does not exist"):
        ActivationDataset.load(tmp_path / "missing.npz")


def test_from_run_and_limits(tmp_path):
    cfg = TrainConfig(system="heisenberg-ring", size=6, model="transformer", d_model=4, n_heads=1, patch_size=3)
    system = cfg.build_system()
    model = cfg.build_model(system)
    variables = model.init(jax.random.PRNGKey(5), jnp.ones((1, 6)))
    run = Run.create(tmp_path / "run", {"kind": "nqs", **cfg.to_dict()}, cfg.reference(system))
    run.write_blob("params.msgpack", flax.serialization.msgpack_serialize(flax.serialization.to_state_dict(variables)))
    data = activations_from_run(tmp_path / "run", "embed")
    np.testing.assert_allclose(data.log_psi_S, model.apply(variables, data.sigma_SN.astype(float)), atol=1e-12)
    assert data.acts.shape == (20, 4) and data.system["system"] == "heisenberg-ring"
    with pytest.raises(PhyslensError, match="use method='sampled'"):
        collect_activations(run.model, run.variables, TFIMChain(21), "pooled", method="exact")


def test_in_chunks_equals_one_call_over_the_whole_batch():
    x_B3 = np.random.default_rng(0).normal(size=(5000, 3))
    fn = jax.jit(lambda x: jnp.tanh(x) @ jnp.arange(3.0))
    chunked = in_chunks(fn, x_B3, chunk=1024)
    assert chunked.shape == (5000,)
    np.testing.assert_allclose(chunked, np.asarray(fn(x_B3)), rtol=1e-14, atol=1e-15)  # XLA vectorises by batch size
    assert in_chunks(fn, x_B3[:0]).shape == (0,)
