"""A ViT-style transformer neural quantum state with hook points at every site.

The spins ``sigma_BN`` (values ±1) are cut into patches — runs of ``patch_size``
consecutive sites on a chain, ``patch_size × patch_size`` squares on an L×L lattice
(sites in row-major order, site = x·L + y, as NetKet's ``Square`` numbers them) —
each patch is embedded linearly as one token, ``n_layers`` pre-LayerNorm encoder
layers (multi-head self-attention + MLP, both residual) act on the T tokens, the
final residual stream is LayerNorm-ed and mean-pooled over tokens, and the readout
gives the real log-amplitude

    log ψ(σ) = Σ_k log cosh(w_k · pooled(σ) + c_k).

The model knows only the patch layout (``lattice_shape``, ``patch_size``), never
the Hamiltonian. Real log ψ suits sign-free ground states (TFIM, and the Heisenberg
models under the Marshall sign rule that ``physlens.quantum.systems`` applies).

Hook points (``physlens.lens.hooks``), T tokens of width D = ``d_model``:

- ``embed`` (B, T, D): patch embeddings plus learned positions (if any).
- ``layers.{i}.attn.out`` (B, T, D): attention output added to the residual stream.
- ``layers.{i}.mlp.out`` (B, T, D): MLP output added to the residual stream.
- ``layers.{i}.resid`` (B, T, D): the residual stream after layer i.
- ``resid.final`` (B, T, D): the final LayerNorm of the residual stream.
- ``pooled`` (B, D): its mean over tokens.
- ``out`` (B,): log ψ.

Usage::

    model = Transformer(lattice_shape=(4, 4), patch_size=2, d_model=16, n_layers=1, n_heads=2)
    vstate = nk.vqs.FullSumState(system.hilbert, model, seed=0)
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.nn.initializers import normal

from physlens.errors import PhyslensError, check_choice
from physlens.lens.hooks import HookPoint
from physlens.quantum.models import OUT, log_cosh

EMBED = "embed"
"""Site of the patch embeddings plus positions, ``(B, T, D)``."""
RESID_FINAL = "resid.final"
"""Site of the final LayerNorm-ed residual stream, ``(B, T, D)``: per-token SAE input."""
POOLED = "pooled"
"""Site of the token mean of the final residual stream, ``(B, D)``: per-configuration SAE input."""

POS_ENCODINGS = ("learned", "relative", "none")
"""``learned``: a learned vector per token position added to the embedding; ``relative``: a
learned attention bias per head and periodic patch displacement (translation-invariant
under shifts by whole patches); ``none``: no position information."""


def patch_indices(lattice_shape: tuple[int, ...], patch_size: int) -> np.ndarray:
    """Site indices of each patch, shape ``(T, P)``: P = b sites (chain) or b² (square), row-major order.

    Raises ``PhyslensError`` when ``patch_size`` does not divide every lattice side.
    """
    shape = tuple(int(s) for s in lattice_shape)
    if len(shape) not in (1, 2) or min(shape) < 1:
        raise PhyslensError(f"lattice_shape must be (N,) or (L, L) with positive sides; got {lattice_shape}")
    if patch_size < 1 or any(s % patch_size for s in shape):
        raise PhyslensError(f"patch_size {patch_size} must be >= 1 and divide every lattice side {shape}")
    sites = np.arange(int(np.prod(shape))).reshape(shape)
    if len(shape) == 1:
        return sites.reshape(-1, patch_size)
    rows, cols = shape[0] // patch_size, shape[1] // patch_size
    blocks = sites.reshape(rows, patch_size, cols, patch_size).transpose(0, 2, 1, 3)
    return blocks.reshape(rows * cols, patch_size * patch_size)


def relative_offsets(grid: tuple[int, ...]) -> np.ndarray:
    """Index of the periodic displacement between every pair of tokens on a patch grid, shape ``(T, T)``.

    Tokens t = (a, c) in row-major order on ``grid``; the index of (Δa mod rows, Δc mod cols)
    runs over 0 … T−1, so that equal displacements share one attention bias.
    """
    coords_TG = np.stack(np.unravel_index(np.arange(int(np.prod(grid))), grid), axis=1)
    delta_TTG = (coords_TG[None, :, :] - coords_TG[:, None, :]) % np.asarray(grid)
    return np.ravel_multi_index(tuple(delta_TTG.transpose(2, 0, 1)), grid)


class EncoderLayer(nn.Module):
    """One pre-LayerNorm encoder layer: x + attn(LN(x)), then + mlp(LN(·)).

    Attributes:
        n_heads: attention heads; ``d_model`` (the input width) must be a multiple of it.
        mlp_ratio: hidden width of the MLP in units of ``d_model``.
        rel_index_TT: ``relative_offsets`` of the token grid when a relative attention
            bias is used, else None.
        param_dtype: dtype of the parameters.
    """

    n_heads: int
    mlp_ratio: int
    rel_index_TT: tuple[tuple[int, ...], ...] | None
    param_dtype: Any

    @nn.compact
    def __call__(self, x_BTD: jax.Array) -> jax.Array:
        d_model = x_BTD.shape[-1]
        d_head = d_model // self.n_heads
        dense = lambda width, name: nn.Dense(width, param_dtype=self.param_dtype, name=name)  # noqa: E731
        h_BTD = nn.LayerNorm(param_dtype=self.param_dtype, name="ln_attn")(x_BTD)
        q_BTHE, k_BTHE, v_BTHE = (dense(d_model, n)(h_BTD).reshape(*h_BTD.shape[:-1], self.n_heads, d_head)
                                  for n in ("query", "key", "value"))
        logits_BHTT = jnp.einsum("...the,...she->...hts", q_BTHE, k_BTHE) / np.sqrt(d_head)
        if self.rel_index_TT is not None:
            index_TT = np.asarray(self.rel_index_TT)
            bias_HR = self.param("rel_bias", nn.initializers.zeros, (self.n_heads, index_TT.size // len(index_TT)),
                                 self.param_dtype)
            logits_BHTT = logits_BHTT + bias_HR[:, index_TT]
        attn_BHTT = jax.nn.softmax(logits_BHTT, axis=-1)
        mixed_BTD = jnp.einsum("...hts,...she->...the", attn_BHTT, v_BTHE).reshape(h_BTD.shape)
        x_BTD = x_BTD + HookPoint(name="attn.out")(dense(d_model, "attn_proj")(mixed_BTD))
        h_BTD = nn.LayerNorm(param_dtype=self.param_dtype, name="ln_mlp")(x_BTD)
        h_BTD = dense(d_model, "mlp_out")(nn.gelu(dense(self.mlp_ratio * d_model, "mlp_in")(h_BTD)))
        return x_BTD + HookPoint(name="mlp.out")(h_BTD)


class Transformer(nn.Module):
    """ViT-style NQS: patches → tokens → pre-LN encoder layers → LayerNorm, mean pool → Σ log cosh readout.

    Attributes:
        lattice_shape: the site layout the patches are cut from: ``(N,)`` for a chain,
            ``(L, L)`` for a square lattice with sites in row-major order. None: a chain
            of the input's length.
        patch_size: sites per patch along each lattice direction (b sites on a chain,
            b×b on a square lattice); must divide every side.
        d_model: width D of the residual stream (a multiple of ``n_heads``).
        n_layers: number of encoder layers.
        n_heads: attention heads per layer.
        mlp_ratio: MLP hidden width in units of ``d_model``.
        pos_encoding: ``learned``, ``relative`` or ``none`` (see ``POS_ENCODINGS``).
        readout_ratio: readout units in units of ``d_model`` (the log cosh terms).
        param_dtype: dtype of the parameters (float64 by default).
        init_std: standard deviation of the normal initialisation of the patch embedding,
            the learned positions and the readout; other kernels use LeCun-normal.
    """

    lattice_shape: tuple[int, ...] | None = None
    patch_size: int = 2
    d_model: int = 16
    n_layers: int = 1
    n_heads: int = 2
    mlp_ratio: int = 2
    pos_encoding: str = "learned"
    readout_ratio: int = 1
    param_dtype: Any = jnp.float64
    init_std: float = 0.1

    def _check(self, n_sites: int) -> tuple[int, ...]:
        check_choice("pos_encoding", self.pos_encoding, POS_ENCODINGS)
        if min(self.d_model, self.n_layers, self.n_heads, self.mlp_ratio, self.readout_ratio) < 1 \
                or self.d_model % self.n_heads:
            raise PhyslensError(f"transformer needs positive sizes and d_model a multiple of n_heads; got "
                                f"d_model={self.d_model}, n_heads={self.n_heads}, n_layers={self.n_layers}")
        shape = (n_sites,) if self.lattice_shape is None else tuple(self.lattice_shape)
        if int(np.prod(shape)) != n_sites:
            raise PhyslensError(f"lattice_shape {shape} has {int(np.prod(shape))} sites; the input has {n_sites}")
        return shape

    @nn.compact
    def __call__(self, sigma_BN: jax.Array) -> jax.Array:
        shape = self._check(sigma_BN.shape[-1])
        patches_TP = patch_indices(shape, self.patch_size)
        grid = tuple(s // self.patch_size for s in shape)
        init = normal(self.init_std)
        x_BTD = nn.Dense(self.d_model, param_dtype=self.param_dtype, kernel_init=init, name="embed_patch")(
            jnp.asarray(sigma_BN, self.param_dtype)[..., patches_TP])
        if self.pos_encoding == "learned":
            x_BTD = x_BTD + self.param("pos_embed", init, (len(patches_TP), self.d_model), self.param_dtype)
        x_BTD = HookPoint(name=EMBED)(x_BTD)
        rel = None
        if self.pos_encoding == "relative":
            rel = tuple(map(tuple, relative_offsets(grid).tolist()))
        for i in range(self.n_layers):
            x_BTD = EncoderLayer(self.n_heads, self.mlp_ratio, rel, self.param_dtype, name=f"layers.{i}")(x_BTD)
            x_BTD = HookPoint(name=f"layers.{i}.resid")(x_BTD)
        x_BTD = HookPoint(name=RESID_FINAL)(nn.LayerNorm(param_dtype=self.param_dtype, name="ln_final")(x_BTD))
        pooled_BD = HookPoint(name=POOLED)(x_BTD.mean(axis=-2))
        readout = nn.Dense(self.readout_ratio * self.d_model, param_dtype=self.param_dtype, kernel_init=init,
                           bias_init=init, name="readout")
        return HookPoint(name=OUT)(log_cosh(readout(pooled_BD)).sum(axis=-1))
