"""Neural-quantum-state ansätze as plain Flax modules with named hook points.

Each model maps spin configurations ``sigma_BN`` (values ±1, shape ``(B, N)`` or
``(N,)``) to the real log-amplitude ``log ψ(σ)`` (shape ``(B,)``). They are
accepted as they are by NetKet's ``MCState`` and ``FullSumState``. Real
parameters suit the sign-free ground states physlens studies (the Heisenberg
ring under the Marshall sign rule, the TFIM, the toric code).

Hook points (``physlens.lens.hooks``):

- ``RBM``: ``hidden.pre`` (W σ + b, ``(B, M)``), ``hidden.post`` (log cosh of it,
  after the hidden mask, ``(B, M)``), ``out`` (``(B,)``).
- ``FFNN``: ``layers.{i}.pre``, ``layers.{i}.post`` for each hidden layer, ``out``.
- ``Transformer`` (``physlens.quantum.transformer``): ``embed``, ``layers.{i}.attn.out``,
  ``layers.{i}.mlp.out``, ``layers.{i}.resid``, ``resid.final``, ``pooled``, ``out``.

Usage::

    model = RBM(alpha=2)
    vstate = nk.vqs.FullSumState(system.hilbert, model, seed=0)
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.nn.initializers import normal

from physlens.errors import PhyslensError
from physlens.lens.hooks import HookPoint

ACTIVATIONS = ("relu", "log_cosh")

HIDDEN_PRE = "hidden.pre"
"""RBM site: W σ + b, ``(B, M)``."""
HIDDEN_POST = "hidden.post"
"""RBM site: the M log cosh terms after the hidden mask, ``(B, M)``; zeroing component j removes unit j."""
OUT = "out"
"""Site of log ψ itself, ``(B,)`` (every physlens model)."""


def layer_site(i: int, stage: str) -> str:
    """FFNN site of hidden layer ``i``: ``stage`` ``pre`` (before the activation) or ``post`` (after it)."""
    return f"layers.{i}.{stage}"


def log_cosh(x: jax.Array) -> jax.Array:
    """log(cosh x), computed without overflow for large |x|."""
    ax = jnp.abs(x)
    return ax + jnp.log1p(jnp.exp(-2.0 * ax)) - jnp.log(2.0)


def _activation(name: str):
    return {"relu": nn.relu, "log_cosh": log_cosh}[name]


class RBM(nn.Module):
    """Restricted Boltzmann machine, log ψ(σ) = a·σ + Σ_j m_j log cosh(W_j·σ + b_j).

    Attributes:
        alpha: hidden-unit density; the number of hidden units is M = round(alpha · N).
        use_visible_bias: include the visible bias a (shape ``(N,)``).
        use_hidden_bias: include the hidden biases b (shape ``(M,)``).
        hidden_mask: optional tuple of M booleans; m_j = 0 removes unit j exactly
            (its log cosh term is dropped), None keeps every unit.
        param_dtype: dtype of the parameters (float64 by default).
        init_std: standard deviation of the normal initialisation of every parameter.
    """

    alpha: float = 1.0
    use_visible_bias: bool = True
    use_hidden_bias: bool = True
    hidden_mask: tuple[bool, ...] | None = None
    param_dtype: Any = jnp.float64
    init_std: float = 0.01

    @nn.compact
    def __call__(self, sigma_BN: jax.Array) -> jax.Array:
        n_sites = sigma_BN.shape[-1]
        n_hidden = int(round(self.alpha * n_sites))
        if n_hidden < 1:
            raise PhyslensError(f"RBM alpha={self.alpha} gives no hidden units for N={n_sites}; alpha must be > 0")
        init = normal(self.init_std)
        dense = nn.Dense(n_hidden, use_bias=self.use_hidden_bias, param_dtype=self.param_dtype,
                         kernel_init=init, bias_init=init, name="hidden")
        pre_BM = HookPoint(name=HIDDEN_PRE)(dense(sigma_BN))
        post_BM = log_cosh(pre_BM)
        if self.hidden_mask is not None:
            if len(self.hidden_mask) != n_hidden:
                raise PhyslensError(f"hidden_mask has {len(self.hidden_mask)} entries; the RBM has {n_hidden} hidden units")
            post_BM = post_BM * jnp.asarray(self.hidden_mask, dtype=post_BM.dtype)
        post_BM = HookPoint(name=HIDDEN_POST)(post_BM)
        out_B = post_BM.sum(axis=-1)
        if self.use_visible_bias:
            visible_bias_N = self.param("visible_bias", init, (n_sites,), self.param_dtype)
            out_B = out_B + sigma_BN @ visible_bias_N
        return HookPoint(name=OUT)(out_B)


class FFNN(nn.Module):
    """Feed-forward network with summed output, log ψ(σ) = Σ_k h_L,k(σ).

    Attributes:
        widths: number of units of each hidden layer, e.g. ``(16,)`` or ``(32, 32)``.
        activation: ``"relu"`` or ``"log_cosh"``, applied after every layer.
        use_bias: include a bias in every layer.
        param_dtype: dtype of the parameters (float64 by default).
        init_std: standard deviation of the normal initialisation of the biases.
        kernel_std: standard deviation of a normal initialisation of the kernels (Barton et al.'s
            sparse-nqs code uses 0.01 with no biases); None: LeCun-normal.
    """

    widths: tuple[int, ...] = (16,)
    activation: str = "relu"
    use_bias: bool = True
    param_dtype: Any = jnp.float64
    init_std: float = 0.01
    kernel_std: float | None = None

    @nn.compact
    def __call__(self, sigma_BN: jax.Array) -> jax.Array:
        if self.activation not in ACTIVATIONS:
            raise PhyslensError(f"unknown activation {self.activation!r}; allowed: {', '.join(ACTIVATIONS)}")
        if not self.widths or min(self.widths) < 1:
            raise PhyslensError(f"FFNN widths {self.widths} must be one or more positive integers")
        act = _activation(self.activation)
        kernel_init = nn.initializers.lecun_normal() if self.kernel_std is None else normal(self.kernel_std)
        h = sigma_BN
        for i, width in enumerate(self.widths):
            dense = nn.Dense(width, use_bias=self.use_bias, param_dtype=self.param_dtype, kernel_init=kernel_init,
                             bias_init=normal(self.init_std), name=f"layers.{i}")
            h = HookPoint(name=layer_site(i, "pre"))(dense(h))
            h = HookPoint(name=layer_site(i, "post"))(act(h))
        return HookPoint(name=OUT)(h.sum(axis=-1))
