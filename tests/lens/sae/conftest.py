"""Fixtures for the SAE tests: random SAEs of every architecture and synthetic activations."""

import jax.numpy as jnp
import numpy as np
import pytest

from physlens.lens.sae import SAE, JumpReLUConfig, ReLUConfig, TopKConfig

D, F = 6, 10


def make_cfg(architecture: str, **overrides):
    """A small config of the named architecture."""
    if architecture == "relu":
        return ReLUConfig(d_in=D, d_sae=F, l1_coefficient=0.3, **overrides)
    if architecture == "topk":
        return TopKConfig(d_in=D, d_sae=F, k=3, **overrides)
    return JumpReLUConfig(d_in=D, d_sae=F, l0_coefficient=0.2, bandwidth=0.4, **overrides)


def random_params(cfg, seed: int) -> dict:
    """Random float64 parameters; decoder rows deliberately not unit norm."""
    rng = np.random.default_rng(seed)
    params = {
        "W_enc": rng.normal(size=(cfg.d_in, cfg.d_sae)),
        "b_enc": 0.3 * rng.normal(size=cfg.d_sae),
        "W_dec": rng.normal(size=(cfg.d_sae, cfg.d_in)) * rng.uniform(0.5, 2.0, size=(cfg.d_sae, 1)),
        "b_dec": 0.2 * rng.normal(size=cfg.d_in),
    }
    if cfg.architecture == "jumprelu":
        params["log_threshold"] = np.log(rng.uniform(0.1, 0.8, size=cfg.d_sae))
    return params


@pytest.fixture(params=["relu", "topk", "jumprelu"])
def architecture(request) -> str:
    """Each architecture in turn."""
    return request.param


@pytest.fixture
def random_sae():
    """Factory: a random SAE of an architecture, with a non-trivial normalisation."""

    def build(architecture: str, seed: int = 0, **overrides) -> SAE:
        cfg = make_cfg(architecture, **overrides)
        params = {k: jnp.asarray(v) for k, v in random_params(cfg, seed).items()}
        rng = np.random.default_rng(seed + 100)
        return SAE(cfg=cfg, params=params, mean_D=jnp.asarray(rng.normal(size=cfg.d_in)), rms_norm=jnp.asarray(2.5))

    return build


@pytest.fixture
def sparse_dataset():
    """Factory: inputs (n, d) built from ``n_features`` random unit directions, ``active``
    per input with magnitudes in [0.5, 1.5], plus a constant offset; returns (inputs, directions)."""

    def build(n: int, d: int, n_features: int, active: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        dirs = rng.normal(size=(n_features, d))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        idx = np.argsort(rng.random((n, n_features)), axis=1)[:, :active]
        codes = np.zeros((n, n_features))
        np.put_along_axis(codes, idx, rng.uniform(0.5, 1.5, size=(n, active)), axis=1)
        return codes @ dirs + 0.3, dirs

    return build
