"""JumpReLU SAE (Rajamanoharan et al. 2024, "Jumping Ahead: Improving reconstruction
fidelity with JumpReLU sparse autoencoders").

Latents z_f = π_f · H(π_f − θ_f) with a learnable threshold θ_f = exp(log_threshold_f) > 0
per latent (§3); training loss ‖x − x̂‖² + λ ‖z‖₀, averaged over the batch. Both the jump
and the L0 count are flat in θ almost everywhere, so θ learns through straight-through
estimators with a rectangle kernel K(u) = 1{|u| < 1/2} of bandwidth ε (§4)::

    ∂JumpReLU(π; θ)/∂θ := −(θ/ε) K((π − θ)/ε)      ∂H(π − θ)/∂θ := −(1/ε) K((π − θ)/ε)

The gradient with respect to π is the true one: H(π − θ) through the JumpReLU, zero
through the L0 count. Usage::

    cfg = JumpReLUConfig(d_in=64, d_sae=512, l0_coefficient=1e-3)
    sae, log = train_sae(cfg, acts_ND)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from physlens.errors import PhyslensError
from physlens.lens.sae.base import (
    Params,
    SAEConfig,
    decode_normalised,
    pre_activations,
    require_non_negative,
    squared_error,
)

# Kernel bandwidth ε and initial threshold θ₀ (Rajamanoharan et al. 2024, training details
# in the appendix; both quoted for inputs scaled to unit mean squared norm, as here). The L0
# penalty reaches only the thresholds, and Adam moves log θ by at most about its step size per
# step whatever λ is: from θ₀ = 0.001, 2,000 steps at 1e-3 leave θ far below the pre-activations
# of a D = 16–32 NQS stream, and L0 the same for every λ in 1e-4…1e-1 (docs/studies/sae-steering).
# Short trainings need a larger θ₀ (``JumpReLUConfig.initial_threshold``; 0.03 there).
BANDWIDTH = 0.001
INITIAL_THRESHOLD = 0.001


def rectangle(u: jax.Array) -> jax.Array:
    """The rectangle kernel K(u) = 1 for |u| < 1/2, else 0 (same shape and dtype)."""
    return (jnp.abs(u) < 0.5).astype(u.dtype)


def _sum_to_latents(g_BF: jax.Array) -> jax.Array:
    """Sum over every leading axis: (..., F) → (F,)."""
    return g_BF.reshape(-1, g_BF.shape[-1]).sum(axis=0)


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def jumprelu(pre_BF: jax.Array, threshold_F: jax.Array, bandwidth: float) -> jax.Array:
    """π · H(π − θ), shape (..., F); threshold gradient by the straight-through estimator."""
    return jnp.where(pre_BF > threshold_F, pre_BF, 0.0)


def _jumprelu_fwd(pre_BF, threshold_F, bandwidth):
    return jumprelu(pre_BF, threshold_F, bandwidth), (pre_BF, threshold_F)


def _jumprelu_bwd(bandwidth, residuals, g_BF):
    pre_BF, threshold_F = residuals
    grad_pre_BF = jnp.where(pre_BF > threshold_F, g_BF, 0.0)
    kernel_BF = rectangle((pre_BF - threshold_F) / bandwidth)
    return grad_pre_BF, _sum_to_latents(-(threshold_F / bandwidth) * kernel_BF * g_BF)


jumprelu.defvjp(_jumprelu_fwd, _jumprelu_bwd)


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def heaviside(pre_BF: jax.Array, threshold_F: jax.Array, bandwidth: float) -> jax.Array:
    """H(π − θ) as 0.0/1.0, shape (..., F); threshold gradient by the straight-through estimator."""
    return (pre_BF > threshold_F).astype(pre_BF.dtype)


def _heaviside_fwd(pre_BF, threshold_F, bandwidth):
    return heaviside(pre_BF, threshold_F, bandwidth), (pre_BF, threshold_F)


def _heaviside_bwd(bandwidth, residuals, g_BF):
    pre_BF, threshold_F = residuals
    kernel_BF = rectangle((pre_BF - threshold_F) / bandwidth)
    return jnp.zeros_like(pre_BF), _sum_to_latents(-(1.0 / bandwidth) * kernel_BF * g_BF)


heaviside.defvjp(_heaviside_fwd, _heaviside_bwd)


@dataclass(frozen=True, kw_only=True)
class JumpReLUConfig(SAEConfig):
    """A JumpReLU SAE.

    Attributes:
        l0_coefficient: λ, the weight of the L0 penalty. No default: it sets the sparsity.
        bandwidth: ε, the width of the straight-through kernel, in normalised input units.
        initial_threshold: θ₀, every latent's threshold at initialisation (> 0).
    """

    architecture: ClassVar[str] = "jumprelu"
    l0_coefficient: float
    bandwidth: float = BANDWIDTH
    initial_threshold: float = INITIAL_THRESHOLD

    def __post_init__(self) -> None:
        super().__post_init__()
        require_non_negative("l0_coefficient", self.l0_coefficient)
        for name in ("bandwidth", "initial_threshold"):
            require_non_negative(name, getattr(self, name))
            if getattr(self, name) == 0:
                raise PhyslensError(f"{name} must be > 0, got 0")

    def extra_params(self) -> Params:
        """``log_threshold`` (F,), every entry log θ₀."""
        return {"log_threshold": jnp.full(self.d_sae, np.log(self.initial_threshold), dtype=jnp.float64)}

    def activate(self, pre_BF: jax.Array, params: Params) -> jax.Array:
        """JumpReLU of the pre-activations with θ = exp(log_threshold), shape (..., F)."""
        return jumprelu(pre_BF, jnp.exp(params["log_threshold"]), self.bandwidth)

    def loss(self, params: Params, x_BD: jax.Array, dead_F: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Normalised MSE + λ · mean over the batch of ‖z‖₀ (``dead_F`` unused)."""
        pre_BF = pre_activations(params, x_BD)
        threshold_F = jnp.exp(params["log_threshold"])
        latents_BF = jumprelu(pre_BF, threshold_F, self.bandwidth)
        mse = squared_error(x_BD, decode_normalised(params, latents_BF))
        l0 = jnp.mean(jnp.sum(heaviside(pre_BF, threshold_F, self.bandwidth), axis=-1))
        parts = {"mse": mse, "penalty": self.l0_coefficient * l0, "l0": l0, "fired_F": (pre_BF > threshold_F).any(0)}
        return mse + self.l0_coefficient * l0, parts
