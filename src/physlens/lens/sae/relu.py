"""ReLU SAE with a decoder-norm-weighted L1 penalty (Anthropic, "Towards Monosemanticity",
2023, and "Circuits Updates – April 2024", the section on training SAEs).

Latents z = ReLU(π(x)); training loss, per input averaged over the batch::

    ‖x − x̂‖² + λ Σ_f z_f ‖W_dec,f‖

While training keeps decoder rows at unit norm the weights ‖W_dec,f‖ are 1; the penalty
is written in full so that it stays the right objective for any decoder. Usage::

    cfg = ReLUConfig(d_in=64, d_sae=512, l1_coefficient=0.05)
    sae, log = train_sae(cfg, acts_ND)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp

from physlens.lens.sae.base import (
    Params,
    SAEConfig,
    decode_normalised,
    pre_activations,
    require_non_negative,
    squared_error,
)


@dataclass(frozen=True, kw_only=True)
class ReLUConfig(SAEConfig):
    """A ReLU SAE.

    Attributes:
        l1_coefficient: λ, the weight of the decoder-norm-weighted L1 penalty. No default:
            its scale depends on the input normalisation (here unit mean squared norm), and
            it sets the sparsity.
    """

    architecture: ClassVar[str] = "relu"
    l1_coefficient: float

    def __post_init__(self) -> None:
        super().__post_init__()
        require_non_negative("l1_coefficient", self.l1_coefficient)

    def activate(self, pre_BF: jax.Array, params: Params) -> jax.Array:
        """ReLU of the pre-activations, shape (..., F)."""
        return jax.nn.relu(pre_BF)

    def loss(self, params: Params, x_BD: jax.Array, dead_F: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Normalised MSE + λ · mean over the batch of Σ_f z_f ‖W_dec,f‖ (``dead_F`` unused)."""
        latents_BF = self.activate(pre_activations(params, x_BD), params)
        mse = squared_error(x_BD, decode_normalised(params, latents_BF))
        dec_norm_F = jnp.linalg.norm(params["W_dec"], axis=-1)
        penalty = self.l1_coefficient * jnp.mean(latents_BF @ dec_norm_F)
        active_BF = latents_BF > 0
        parts = {"mse": mse, "penalty": penalty, "l0": active_BF.sum(-1).mean(), "fired_F": active_BF.any(0)}
        return mse + penalty, parts
