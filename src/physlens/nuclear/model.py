"""The nuclear regressor: an attention-ablated transformer over the tokens (Z, N, task).

After Kitouni et al. 2024, "From Neurons to Neutrons" (arXiv:2405.17425). Each sample
is a nucleus and a task, given as integers ``x_B3 = (Z, N, task)``. Three learned
embeddings (width D) form three tokens; each of the L blocks adds to the residual
stream an "attention" whose pattern is ablated to uniform (every token receives the
token average, through a merged value-output map W_OV), then a SiLU MLP applied to each
token. The penultimate vector is the token average of the final residual stream; a
linear readout gives one standardised value per task, of which the requested task's is
kept and mapped to physical units by the fixed per-task affine map
``value · target_scale[task] + target_shift[task]``.

Hook points (``physlens.lens.hooks``), B samples, D width:

- ``embed.Z``, ``embed.N``, ``embed.task``: the three embeddings, ``(B, D)``;
- ``blocks.{i}.attn.out``: the uniform-attention output, ``(B, 3, D)`` (equal rows);
- ``blocks.{i}.mlp.out``: the MLP output, ``(B, 3, D)``;
- ``blocks.{i}.resid``: the residual stream after block i, ``(B, 3, D)``;
- ``penultimate``: the token average of the last residual stream, ``(B, D)``.

Usage::

    model = NuclearModel(n_z=111, n_n=161, tasks=("B", "S_n"), width=64, depth=2)
    variables = model.init(jax.random.PRNGKey(0), jnp.array([[82, 126, 0]]))
    Lens(model, variables).run_with_cache(x_B3, ["penultimate"])
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from physlens.errors import PhyslensError
from physlens.lens.hooks import HookPoint

N_TOKENS = 3
"""Tokens per sample: Z, N and task."""


def hook_point_names(depth: int) -> list[str]:
    """The hook point names of a ``NuclearModel`` with ``depth`` blocks, in call order."""
    blocks = [f"blocks.{i}.{site}" for i in range(depth) for site in ("attn.out", "mlp.out", "resid")]
    return ["embed.Z", "embed.N", "embed.task", *blocks, "penultimate"]


class UniformAttentionBlock(nn.Module):
    """One residual block: uniform attention, then a per-token SiLU MLP.

    On a residual stream ``h_BTD`` (T = 3 tokens) it computes
    ``a = mean_T(h) @ W_OV + b_OV`` (broadcast to every token), ``h ← h + a``,
    ``m = silu(h @ W_in + b_in) @ W_out + b_out``, ``h ← h + m``.

    Attributes:
        hidden: width of the MLP's hidden layer.
        param_dtype: dtype of the parameters (float64 by default).
    """

    hidden: int
    param_dtype: Any = jnp.float64

    @nn.compact
    def __call__(self, h_BTD: jax.Array) -> jax.Array:
        width = h_BTD.shape[-1]
        mean_B1D = h_BTD.mean(axis=-2, keepdims=True)
        ov = nn.Dense(width, param_dtype=self.param_dtype, name="attn_ov")
        attn_BTD = HookPoint(name="attn.out")(jnp.broadcast_to(ov(mean_B1D), h_BTD.shape))
        h_BTD = h_BTD + attn_BTD
        pre_BTM = nn.Dense(self.hidden, param_dtype=self.param_dtype, name="mlp_in")(h_BTD)
        mlp_BTD = nn.Dense(width, param_dtype=self.param_dtype, name="mlp_out")(nn.silu(pre_BTM))
        mlp_BTD = HookPoint(name="mlp.out")(mlp_BTD)
        return HookPoint(name="resid")(h_BTD + mlp_BTD)


class NuclearModel(nn.Module):
    """Attention-ablated transformer mapping (Z, N, task) to the task's value.

    Attributes:
        n_z: rows of the Z embedding table; Z must lie in ``[0, n_z)``.
        n_n: rows of the N embedding table; N must lie in ``[0, n_n)``.
        tasks: task names; the task index of a sample points into this tuple.
        width: model width D (embeddings and residual stream).
        depth: number of blocks L.
        mlp_ratio: MLP hidden width as a multiple of D.
        target_shift: per-task value added after scaling (physical units); None gives 0.
        target_scale: per-task scale of the standardised readout (physical units); None gives 1.
        binding_per_nucleon: how to read the value of a task ``B``: B/A in MeV per nucleon
            (True) or the total B in MeV (False); ``evaluate.binding_factor`` turns it into B.
        param_dtype: dtype of the parameters (float64 by default).
    """

    n_z: int
    n_n: int
    tasks: tuple[str, ...]
    width: int = 64
    depth: int = 2
    mlp_ratio: int = 4
    target_shift: tuple[float, ...] | None = None
    target_scale: tuple[float, ...] | None = None
    binding_per_nucleon: bool = True
    param_dtype: Any = jnp.float64

    def _check(self) -> None:
        sizes = {"n_z": self.n_z, "n_n": self.n_n, "width": self.width, "mlp_ratio": self.mlp_ratio,
                 "tasks": len(self.tasks)}
        for name, value in sizes.items():
            if value < 1:
                raise PhyslensError(f"NuclearModel {name} must be >= 1; got {value}")
        if self.depth < 0:
            raise PhyslensError(f"NuclearModel depth must be >= 0; got {self.depth}")
        for name, values in (("target_shift", self.target_shift), ("target_scale", self.target_scale)):
            if values is not None and len(values) != len(self.tasks):
                raise PhyslensError(f"{name} has {len(values)} entries; one per task ({len(self.tasks)}) is required")

    @nn.compact
    def __call__(self, x_B3: jax.Array) -> jax.Array:
        """Prediction for each sample's task, shape ``x_B3.shape[:-1]``, in the task's physical units.

        ``x_B3`` holds integers (Z, N, task index) in its last axis, shape ``(..., 3)``.
        """
        self._check()
        x_B3 = jnp.asarray(x_B3)
        if x_B3.shape[-1:] != (N_TOKENS,):
            raise PhyslensError(f"NuclearModel input has shape {x_B3.shape}; allowed: (..., 3) integers (Z, N, task)")
        x_B3 = x_B3.astype(jnp.int32)
        tables = (("Z", self.n_z), ("N", self.n_n), ("task", len(self.tasks)))
        tokens = []
        for k, (name, size) in enumerate(tables):
            embed = nn.Embed(size, self.width, param_dtype=self.param_dtype, name=f"embed_{name}")
            tokens.append(HookPoint(name=f"embed.{name}")(embed(x_B3[..., k])))
        h_BTD = jnp.stack(tokens, axis=-2)
        for i in range(self.depth):
            h_BTD = UniformAttentionBlock(self.mlp_ratio * self.width, self.param_dtype, name=f"blocks.{i}")(h_BTD)
        pen_BD = HookPoint(name="penultimate")(h_BTD.mean(axis=-2))
        out_BK = nn.Dense(len(self.tasks), param_dtype=self.param_dtype, name="readout")(pen_BD)
        task_B = x_B3[..., 2]
        value_B = jnp.take_along_axis(out_BK, task_B[..., None], axis=-1)[..., 0]
        n_tasks = len(self.tasks)
        scale_K = jnp.asarray(self.target_scale or (1.0,) * n_tasks, dtype=value_B.dtype)
        shift_K = jnp.asarray(self.target_shift or (0.0,) * n_tasks, dtype=value_B.dtype)
        return value_B * scale_K[task_B] + shift_K[task_B]
