"""What every sparse autoencoder shares: config fields, parameters, input normalisation,
geometric-median initialisation, encode/decode and the unit-norm decoder constraint.

An SAE maps an activation x ∈ R^D to F latents and back, in normalised coordinates::

    x' = (x − μ) / s                      centred, scaled to unit mean squared norm
    z  = σ((x' − b_dec) W_enc + b_enc)    σ: ReLU, TopK or JumpReLU (one module each)
    x̂  = (z W_dec + b_dec) · s + μ        decoded, normalisation undone

The rows of ``W_dec_FD`` (the latents' directions) have unit norm. Usage::

    sae = init_sae(TopKConfig(d_in=64, d_sae=512, k=16), acts_ND, jax.random.key(0))
    latents_NF = encode(sae, acts_ND)
    recon_ND = decode(sae, latents_NF)
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from physlens.errors import PhyslensError

Params = dict[str, jax.Array]

# A latent silent for this many training tokens counts as dead (Gao et al. 2024, §2.4).
DEAD_AFTER_TOKENS = 10_000_000
# The decoder bias starts at the geometric median of at most this many inputs
# (the sample size of Gao et al.'s reference code for their §A.1 initialisation).
MEDIAN_SAMPLE = 32_768


@dataclass(frozen=True, kw_only=True)
class SAEConfig(abc.ABC):
    """Widths and bookkeeping shared by every architecture; subclasses add their own terms.

    Attributes:
        d_in: input width D (the last axis of the hooked activation).
        d_sae: number of latents F.
        dead_after_tokens: a latent that has not fired for this many training inputs is
            dead; the TopK AuxK loss trains dead latents, every architecture logs their
            fraction.
    """

    architecture: ClassVar[str]
    d_in: int
    d_sae: int
    dead_after_tokens: int = DEAD_AFTER_TOKENS

    def __post_init__(self) -> None:
        for name in ("d_in", "d_sae", "dead_after_tokens"):
            require_positive_int(name, getattr(self, name))

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Name → shape of every parameter array this architecture stores."""
        D, F = self.d_in, self.d_sae
        shapes = {"W_enc": (D, F), "b_enc": (F,), "W_dec": (F, D), "b_dec": (D,)}
        return shapes | {name: tuple(v.shape) for name, v in self.extra_params().items()}

    def extra_params(self) -> Params:
        """Initial values of the parameters beyond encoder and decoder (none by default)."""
        return {}

    @abc.abstractmethod
    def activate(self, pre_BF: jax.Array, params: Params) -> jax.Array:
        """Latents (..., F) from encoder pre-activations (..., F)."""

    @abc.abstractmethod
    def loss(self, params: Params, x_BD: jax.Array, dead_F: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Training loss on a normalised batch (B, D), given which latents are dead (F,).

        Returns the scalar loss and its parts: ``mse`` (mean over the batch of ‖x − x̂‖²,
        i.e. the normalised MSE, since inputs have unit mean squared norm), ``penalty``
        (the weighted sparsity or auxiliary term), ``l0`` (mean active latents) and
        ``fired_F`` (whether each latent fired on the batch).
        """


def require_positive_int(name: str, value: object) -> None:
    """Raise ``PhyslensError`` unless ``value`` is an int ≥ 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PhyslensError(f"{name} must be a positive integer, got {value!r}")


def require_non_negative(name: str, value: object) -> None:
    """Raise ``PhyslensError`` unless ``value`` is a finite real number ≥ 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < np.inf:
        raise PhyslensError(f"{name} must be a finite number >= 0, got {value!r}")


@partial(jax.tree_util.register_dataclass, data_fields=["params", "mean_D", "rms_norm"], meta_fields=["cfg"])
@dataclass(frozen=True)
class SAE:
    """A sparse autoencoder: its config, parameters and input normalisation (a JAX pytree).

    Attributes:
        cfg: the architecture and its hyperparameters (static under ``jit``).
        params: ``W_enc`` (D, F), ``b_enc`` (F,), ``W_dec`` (F, D) with unit-norm rows,
            ``b_dec`` (D,), plus architecture extras (JumpReLU: ``log_threshold`` (F,)).
        mean_D: mean of the training inputs, in input units.
        rms_norm: root mean squared norm of the centred training inputs, in input units.
    """

    cfg: SAEConfig
    params: Params
    mean_D: jax.Array
    rms_norm: jax.Array


def as_acts(acts_ND: object, d_in: int) -> jax.Array:
    """``acts_ND`` as a float64 array of shape (N, d_in), N ≥ 1, or ``PhyslensError``."""
    acts = jnp.asarray(acts_ND, dtype=jnp.float64)
    if acts.ndim != 2 or acts.shape[1] != d_in or acts.shape[0] < 1:
        raise PhyslensError(f"activations must have shape (N, {d_in}) with N >= 1, got {acts.shape}")
    return acts


def check_width(acts: jax.Array, width: int, what: str) -> None:
    """Raise ``PhyslensError`` unless the last axis of ``acts`` has length ``width``."""
    if acts.ndim < 1 or acts.shape[-1] != width:
        raise PhyslensError(f"{what} must have last axis {width}, got shape {acts.shape}")


def fit_normalisation(acts_ND: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean (D,) and root mean squared norm (scalar) of the centred inputs (N, D), input units."""
    mean_D = acts_ND.mean(axis=0)
    rms_norm = jnp.sqrt(jnp.mean(jnp.sum((acts_ND - mean_D) ** 2, axis=-1)))
    if not float(rms_norm) > 0:
        raise PhyslensError("activations are all identical; an SAE needs inputs that vary")
    return mean_D, rms_norm


def normalise(sae: SAE, acts_BD: jax.Array) -> jax.Array:
    """Input units → the SAE's coordinates: (x − μ)/s, shape (..., D) kept."""
    return (acts_BD - sae.mean_D) / sae.rms_norm


def denormalise(sae: SAE, x_BD: jax.Array) -> jax.Array:
    """The SAE's coordinates → input units: x·s + μ, shape (..., D) kept."""
    return x_BD * sae.rms_norm + sae.mean_D


def pre_activations(params: Params, x_BD: jax.Array) -> jax.Array:
    """Encoder pre-activations (..., F) of normalised inputs (..., D)."""
    return (x_BD - params["b_dec"]) @ params["W_enc"] + params["b_enc"]


def decode_normalised(params: Params, latents_BF: jax.Array) -> jax.Array:
    """Reconstruction (..., D) in normalised coordinates from latents (..., F)."""
    return latents_BF @ params["W_dec"] + params["b_dec"]


def squared_error(x_BD: jax.Array, recon_BD: jax.Array) -> jax.Array:
    """Mean over the batch of ‖x − x̂‖² (summed over D): the normalised MSE of a normalised batch."""
    return jnp.mean(jnp.sum((x_BD - recon_BD) ** 2, axis=-1))


def encode(sae: SAE, acts_BD: jax.Array) -> jax.Array:
    """Latents (..., F) of activations (..., D) given in input units."""
    check_width(acts_BD, sae.cfg.d_in, "activations")
    return sae.cfg.activate(pre_activations(sae.params, normalise(sae, acts_BD)), sae.params)


def decode(sae: SAE, latents_BF: jax.Array) -> jax.Array:
    """Reconstruction (..., D) in input units from latents (..., F)."""
    check_width(latents_BF, sae.cfg.d_sae, "latents")
    return denormalise(sae, decode_normalised(sae.params, latents_BF))


def reconstruct(sae: SAE, acts_BD: jax.Array) -> jax.Array:
    """x̂ = decode(encode(x)), shape (..., D), input units."""
    return decode(sae, encode(sae, acts_BD))


def unit_norm_rows(W_dec_FD: jax.Array) -> jax.Array:
    """``W_dec_FD`` with every row scaled to unit Euclidean norm."""
    return W_dec_FD / jnp.linalg.norm(W_dec_FD, axis=-1, keepdims=True)


def remove_parallel_grads(W_dec_FD: jax.Array, grad_W_dec_FD: jax.Array) -> jax.Array:
    """The decoder gradient minus, row by row, its component along that row's direction.

    Under a unit-norm constraint only the tangential part of each row's gradient can
    change the loss (Bricken et al. 2023; Gao et al. 2024, §A.1). Shapes (F, D).
    """
    along_F = jnp.sum(grad_W_dec_FD * W_dec_FD, axis=-1) / jnp.sum(W_dec_FD**2, axis=-1)
    return grad_W_dec_FD - along_F[:, None] * W_dec_FD


@partial(jax.jit, static_argnames=("max_iter",))
def geometric_median(points_ND: jax.Array, max_iter: int = 500, rtol: float = 1e-12) -> jax.Array:
    """The point (D,) minimising Σ_n ‖p_n − y‖ over the points (N, D), by Weiszfeld iterations.

    Starts at the mean and stops when a step is shorter than ``rtol`` times the points'
    RMS spread or after ``max_iter`` steps. Distances are floored at a tiny fraction of
    that spread, so an iterate landing on a data point does not divide by zero.
    """
    mean_D = points_ND.mean(axis=0)
    spread = jnp.sqrt(jnp.mean(jnp.sum((points_ND - mean_D) ** 2, axis=-1))) + jnp.finfo(points_ND.dtype).tiny
    floor = 1e-14 * spread

    def step(state):
        y_D, _, i = state
        w_N = 1.0 / jnp.maximum(jnp.linalg.norm(points_ND - y_D, axis=-1), floor)
        y_new_D = (w_N @ points_ND) / jnp.sum(w_N)
        return y_new_D, jnp.linalg.norm(y_new_D - y_D), i + 1

    def going(state):
        _, moved, i = state
        return (i < max_iter) & (moved > rtol * spread)

    y_D, _, _ = jax.lax.while_loop(going, step, (mean_D, jnp.array(jnp.inf, points_ND.dtype), jnp.array(0)))
    return y_D


def init_sae(cfg: SAEConfig, acts_ND: jax.Array, key: jax.Array) -> SAE:
    """A fresh SAE fitted to the inputs (N, D) in input units (Gao et al. 2024, §A.1).

    Normalisation from the inputs; decoder rows random unit vectors; encoder the decoder's
    transpose (tied at initialisation only); ``b_enc`` zero; ``b_dec`` the geometric median
    of (up to ``MEDIAN_SAMPLE``) normalised inputs.
    """
    acts_ND = as_acts(acts_ND, cfg.d_in)
    mean_D, rms_norm = fit_normalisation(acts_ND)
    x_ND = (acts_ND - mean_D) / rms_norm
    key_dec, key_sample = jax.random.split(key)
    if x_ND.shape[0] > MEDIAN_SAMPLE:
        x_ND = x_ND[jax.random.choice(key_sample, x_ND.shape[0], (MEDIAN_SAMPLE,), replace=False)]
    W_dec_FD = unit_norm_rows(jax.random.normal(key_dec, (cfg.d_sae, cfg.d_in), dtype=jnp.float64))
    params = {
        "W_enc": W_dec_FD.T,
        "b_enc": jnp.zeros(cfg.d_sae, dtype=jnp.float64),
        "W_dec": W_dec_FD,
        "b_dec": geometric_median(x_ND),
    } | cfg.extra_params()
    return SAE(cfg=cfg, params=params, mean_D=mean_D, rms_norm=rms_norm)
