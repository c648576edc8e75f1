"""TopK SAE with the AuxK loss for dead latents (Gao et al. 2024, "Scaling and evaluating
sparse autoencoders").

Latents keep the k largest pre-activations of each input and pass them through a ReLU
(§2.3); every other latent is zero. Training loss::

    ‖x − x̂‖² + α · AuxK,    AuxK = Σ_b ‖e_b − ê_b‖² / Σ_b ‖e_b − ē‖²

with e = x − x̂ the main reconstruction's residual (no gradient flows into it), ê = z_aux W_dec
its reconstruction from the k_aux largest pre-activations among dead latents (ReLU applied,
no bias), and ē the batch mean of e: AuxK is the normalised MSE of ê, as in the authors'
reference code (§A.2). AuxK is zero while no latent is dead. Usage::

    cfg = TopKConfig(d_in=64, d_sae=512, k=16)
    latents_NF = encode(train_sae(cfg, acts_ND)[0], acts_ND)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp

from physlens.errors import PhyslensError
from physlens.lens.sae.base import (
    Params,
    SAEConfig,
    decode_normalised,
    pre_activations,
    require_non_negative,
    require_positive_int,
    squared_error,
)

# Weight of the AuxK loss (Gao et al. 2024, §A.2).
AUX_COEFFICIENT = 1 / 32


def topk_mask(pre_BF: jax.Array, k: int) -> jax.Array:
    """Boolean mask (..., F) of the k largest finite entries along the last axis.

    Equal entries are taken lowest index first; entries equal to −inf are never taken, so a
    row with fewer than k finite entries keeps all of them. Found by k passes that each
    strip a row's current maximum (XLA's CPU ``top_k`` is an order of magnitude slower),
    falling back to ``lax.top_k`` when a tie straddles the k-th place.
    """

    def strip_max(_, carry):
        x_BF, _ = carry
        top_B1 = x_BF.max(axis=-1, keepdims=True)
        return jnp.where(x_BF == top_B1, -jnp.inf, x_BF), top_B1

    _, kth_B1 = jax.lax.fori_loop(0, k, strip_max, (pre_BF, pre_BF[..., :1]))
    finite_BF = pre_BF > -jnp.inf
    fast_BF = (pre_BF >= kth_B1) & finite_BF

    def exact(_):
        idx_BK = jax.lax.top_k(pre_BF, k)[1]
        return jax.nn.one_hot(idx_BK, pre_BF.shape[-1], dtype=bool).any(axis=-2) & finite_BF

    return jax.lax.cond(jnp.any(fast_BF.sum(axis=-1) > k), exact, lambda _: fast_BF, None)


def topk_latents(pre_BF: jax.Array, k: int) -> jax.Array:
    """ReLU of the k largest entries along the last axis, zeros elsewhere; shape (..., F)."""
    return jnp.where(topk_mask(jax.lax.stop_gradient(pre_BF), k), jax.nn.relu(pre_BF), 0.0)


@dataclass(frozen=True, kw_only=True)
class TopKConfig(SAEConfig):
    """A TopK SAE.

    Attributes:
        k: active latents per input, 1 ≤ k ≤ d_sae.
        k_aux: dead latents that reconstruct the residual in AuxK; ``None`` means d_in // 2
            (Gao et al. 2024, §A.2), capped at d_sae.
        aux_coefficient: α, the weight of AuxK.
    """

    architecture: ClassVar[str] = "topk"
    k: int
    k_aux: int | None = None
    aux_coefficient: float = AUX_COEFFICIENT

    def __post_init__(self) -> None:
        super().__post_init__()
        require_positive_int("k", self.k)
        if self.k > self.d_sae:
            raise PhyslensError(f"k must be at most d_sae = {self.d_sae}, got {self.k}")
        if self.k_aux is None:
            object.__setattr__(self, "k_aux", min(max(self.d_in // 2, 1), self.d_sae))
        require_positive_int("k_aux", self.k_aux)
        if self.k_aux > self.d_sae:
            raise PhyslensError(f"k_aux must be at most d_sae = {self.d_sae}, got {self.k_aux}")
        require_non_negative("aux_coefficient", self.aux_coefficient)

    def activate(self, pre_BF: jax.Array, params: Params) -> jax.Array:
        """TopK latents, shape (..., F)."""
        return topk_latents(pre_BF, self.k)

    def aux_loss(self, params: Params, pre_BF: jax.Array, residual_BD: jax.Array, dead_F: jax.Array) -> jax.Array:
        """AuxK: normalised MSE of the dead latents' reconstruction of the residual (B, D).

        Zero, and not computed, while no latent is dead or the residual does not vary.
        """
        e_BD = jax.lax.stop_gradient(residual_BD)
        spread = jnp.sum((e_BD - e_BD.mean(axis=0)) ** 2)

        def normalised_error(_):
            dead_pre_BF = jnp.where(dead_F, jax.lax.stop_gradient(pre_BF), -jnp.inf)
            aux_latents_BF = jnp.where(topk_mask(dead_pre_BF, self.k_aux), jax.nn.relu(pre_BF), 0.0)
            return jnp.sum((aux_latents_BF @ params["W_dec"] - e_BD) ** 2) / spread

        return jax.lax.cond(dead_F.any() & (spread > 0), normalised_error, lambda _: jnp.zeros((), pre_BF.dtype), None)

    def loss(self, params: Params, x_BD: jax.Array, dead_F: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Normalised MSE + α · AuxK over the dead latents ``dead_F`` (F,)."""
        pre_BF = pre_activations(params, x_BD)
        latents_BF = self.activate(pre_BF, params)
        recon_BD = decode_normalised(params, latents_BF)
        mse = squared_error(x_BD, recon_BD)
        penalty = self.aux_coefficient * self.aux_loss(params, pre_BF, x_BD - recon_BD, dead_F)
        active_BF = latents_BF > 0
        parts = {"mse": mse, "penalty": penalty, "l0": active_BF.sum(-1).mean(), "fired_F": active_BF.any(0)}
        return mse + penalty, parts
