"""Save → load round trip, the SAELens layout, and validation of what is read back."""

import json

import jax.numpy as jnp
import numpy as np
import pytest
import safetensors.numpy

from physlens.errors import PhyslensError
from physlens.lens.sae import JumpReLUConfig, ReLUConfig, TopKConfig, config_for, encode, load_sae, reconstruct, save_sae


def test_round_trip_gives_identical_outputs(tmp_path, random_sae, architecture):
    sae = random_sae(architecture, seed=21)
    save_sae(sae, tmp_path / "sae")
    loaded = load_sae(tmp_path / "sae")
    assert loaded.cfg == sae.cfg
    for name, value in sae.params.items():
        np.testing.assert_array_equal(loaded.params[name], value)
    np.testing.assert_array_equal(loaded.mean_D, sae.mean_D)
    acts = jnp.asarray(np.random.default_rng(21).normal(size=(30, sae.cfg.d_in)))
    np.testing.assert_array_equal(encode(loaded, acts), encode(sae, acts))
    np.testing.assert_array_equal(reconstruct(loaded, acts), reconstruct(sae, acts))


def test_folder_holds_weights_and_config(tmp_path, random_sae):
    sae = random_sae("topk", seed=22)
    save_sae(sae, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.json", "sae_weights.safetensors"]
    cfg = json.loads((tmp_path / "cfg.json").read_text())
    assert cfg["architecture"] == "topk" and cfg["d_in"] == 6 and cfg["d_sae"] == 10
    assert cfg["k"] == 3 and cfg["k_aux"] == 3 and cfg["aux_coefficient"] == 1 / 32
    assert cfg["normalisation"]["rms_norm"] == 2.5 and len(cfg["normalisation"]["mean"]) == 6
    arrays = safetensors.numpy.load_file(str(tmp_path / "sae_weights.safetensors"))
    assert {k: v.shape for k, v in arrays.items()} == {"W_enc": (6, 10), "b_enc": (10,), "W_dec": (10, 6), "b_dec": (6,)}
    assert all(v.dtype == np.float64 for v in arrays.values())


def rewrite_cfg(folder, **changes):
    cfg = json.loads((folder / "cfg.json").read_text()) | changes
    (folder / "cfg.json").write_text(json.dumps(cfg))


def rewrite_weights(folder, change):
    path = folder / "sae_weights.safetensors"
    arrays = safetensors.numpy.load(path.read_bytes())
    path.write_bytes(safetensors.numpy.save(change(arrays)))


@pytest.mark.parametrize(
    "tamper, message",
    [
        (lambda d: rewrite_cfg(d, architecture="gated"), "unknown SAE architecture 'gated'"),
        (lambda d: rewrite_cfg(d, k=99), "k must be at most d_sae"),
        (lambda d: rewrite_cfg(d, l1_coefficient=0.1), "does not fit a topk SAE"),
        (lambda d: rewrite_cfg(d, d_in=7), "normalisation mean must have 7 entries"),
        (lambda d: rewrite_cfg(d, normalisation={"mean": [0.0] * 6, "rms_norm": 0.0}), "rms_norm must be"),
        (lambda d: rewrite_weights(d, lambda a: a | {"W_dec": a["W_dec"][:, :5]}), "W_dec has shape"),
        (lambda d: rewrite_weights(d, lambda a: {k: v for k, v in a.items() if k != "b_enc"}), "needs"),
        (lambda d: (d / "sae_weights.safetensors").write_bytes(b"junk"), "not a readable safetensors"),
        (lambda d: (d / "cfg.json").write_text("{"), "not valid JSON"),
        (lambda d: (d / "cfg.json").unlink(), "cfg.json is missing"),
        (lambda d: (d / "sae_weights.safetensors").unlink(), "sae_weights.safetensors is missing"),
    ],
)
def test_load_refuses_a_broken_folder(tmp_path, random_sae, tamper, message):
    save_sae(random_sae("topk"), tmp_path)
    tamper(tmp_path)
    with pytest.raises(PhyslensError, match=message) as err:
        load_sae(tmp_path)
    assert "\n" not in str(err.value)


def test_config_for_names_each_architecture():
    assert config_for("topk", 8, 32, k=3, sparsity=0.1) == TopKConfig(d_in=8, d_sae=32, k=3)
    assert config_for("relu", 8, 32, k=3, sparsity=0.1) == ReLUConfig(d_in=8, d_sae=32, l1_coefficient=0.1)
    assert config_for("jumprelu", 8, 32, k=3, sparsity=0.1) == JumpReLUConfig(d_in=8, d_sae=32, l0_coefficient=0.1)
    with pytest.raises(PhyslensError, match="unknown SAE architecture 'gated'"):
        config_for("gated", 8, 32, k=3, sparsity=0.1)
