"""Saving and loading an SAE as a folder in SAELens's layout.

``sae_weights.safetensors`` holds the parameter arrays (float64); ``cfg.json`` the
architecture, widths, hyperparameters and input normalisation (mean and RMS norm, in input
units). Both are written atomically. Usage::

    save_sae(sae, Path("runs/rbm8/sae"))
    sae = load_sae(Path("runs/rbm8/sae"))
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import safetensors
import safetensors.numpy

from physlens.errors import PhyslensError, check_choice
from physlens.lens.sae.base import SAE, SAEConfig
from physlens.lens.sae.jumprelu import INITIAL_THRESHOLD, JumpReLUConfig
from physlens.lens.sae.relu import ReLUConfig
from physlens.lens.sae.topk import TopKConfig
from physlens.runs import atomic_write_bytes

WEIGHTS_FILE = "sae_weights.safetensors"
CFG_FILE = "cfg.json"
ARCHITECTURES: dict[str, type[SAEConfig]] = {c.architecture: c for c in (ReLUConfig, TopKConfig, JumpReLUConfig)}


def config_for(architecture: str, d_in: int, d_sae: int, *, k: int, sparsity: float,
               threshold: float = INITIAL_THRESHOLD) -> SAEConfig:
    """The config of an SAE architecture by name: ``topk`` keeps ``k`` latents, ``relu`` takes ``sparsity`` as
    its L1 coefficient and ``jumprelu`` as its L0 coefficient, with ``threshold`` its initial θ₀ (normalised
    input units)."""
    check_choice("SAE architecture", architecture, list(ARCHITECTURES))
    if architecture == "topk":
        return TopKConfig(d_in=d_in, d_sae=d_sae, k=k)
    if architecture == "relu":
        return ReLUConfig(d_in=d_in, d_sae=d_sae, l1_coefficient=sparsity)
    return JumpReLUConfig(d_in=d_in, d_sae=d_sae, l0_coefficient=sparsity, initial_threshold=threshold)


def save_sae(sae: SAE, folder: Path) -> None:
    """Write ``sae`` to ``folder`` (created if missing) as weights + config."""
    folder = Path(folder)
    arrays = {name: np.ascontiguousarray(value, dtype=np.float64) for name, value in sae.params.items()}
    cfg = {"architecture": sae.cfg.architecture, **asdict(sae.cfg), "dtype": "float64"}
    cfg["normalisation"] = {"mean": [float(v) for v in np.asarray(sae.mean_D)], "rms_norm": float(sae.rms_norm)}
    atomic_write_bytes(folder / WEIGHTS_FILE, safetensors.numpy.save(arrays))
    atomic_write_bytes(folder / CFG_FILE, (json.dumps(cfg, indent=2) + "\n").encode())


def _read_cfg(folder: Path) -> dict:
    path = folder / CFG_FILE
    if not path.is_file():
        raise PhyslensError(f"no SAE at {folder}: {CFG_FILE} is missing")
    try:
        cfg = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise PhyslensError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(cfg, dict):
        raise PhyslensError(f"{path} must hold a JSON object, got {type(cfg).__name__}")
    return cfg


def _build_cfg(cfg: dict, path: Path) -> SAEConfig:
    architecture = cfg.pop("architecture", None)
    check_choice("SAE architecture", architecture, list(ARCHITECTURES))
    try:
        return ARCHITECTURES[architecture](**cfg)
    except TypeError as err:
        raise PhyslensError(f"{path} does not fit a {architecture} SAE: {err}") from None


def _read_normalisation(norm: object, d_in: int, path: Path) -> tuple[np.ndarray, float]:
    if not isinstance(norm, dict) or set(norm) != {"mean", "rms_norm"}:
        raise PhyslensError(f"{path}: normalisation must be an object with keys mean and rms_norm")
    mean_D = np.asarray(norm["mean"], dtype=np.float64)
    rms_norm = norm["rms_norm"]
    if mean_D.shape != (d_in,):
        raise PhyslensError(f"{path}: normalisation mean must have {d_in} entries, got shape {mean_D.shape}")
    if not isinstance(rms_norm, (int, float)) or not 0 < rms_norm < np.inf:
        raise PhyslensError(f"{path}: normalisation rms_norm must be a finite number > 0, got {rms_norm!r}")
    return mean_D, float(rms_norm)


def load_sae(folder: Path) -> SAE:
    """Read the SAE saved in ``folder``; checks the architecture, the arrays' names and shapes."""
    folder = Path(folder)
    cfg_path, weights_path = folder / CFG_FILE, folder / WEIGHTS_FILE
    fields = _read_cfg(folder)
    norm = fields.pop("normalisation", None)
    dtype = fields.pop("dtype", "float64")
    if dtype != "float64":
        raise PhyslensError(f"{cfg_path}: dtype must be float64, got {dtype!r}")
    cfg = _build_cfg(fields, cfg_path)
    mean_D, rms_norm = _read_normalisation(norm, cfg.d_in, cfg_path)
    if not weights_path.is_file():
        raise PhyslensError(f"no SAE weights at {folder}: {WEIGHTS_FILE} is missing")
    try:
        arrays = safetensors.numpy.load(weights_path.read_bytes())
    except safetensors.SafetensorError as err:
        raise PhyslensError(f"{weights_path} is not a readable safetensors file ({err})") from None
    shapes = cfg.param_shapes()
    if set(arrays) != set(shapes):
        raise PhyslensError(f"{weights_path} holds {sorted(arrays)}; a {cfg.architecture} SAE needs {sorted(shapes)}")
    for name, shape in shapes.items():
        if arrays[name].shape != shape:
            raise PhyslensError(f"{weights_path}: {name} has shape {arrays[name].shape}, expected {shape}")
    params = {name: jnp.asarray(arrays[name], dtype=jnp.float64) for name in shapes}
    return SAE(cfg=cfg, params=params, mean_D=jnp.asarray(mean_D), rms_norm=jnp.asarray(rms_norm))
