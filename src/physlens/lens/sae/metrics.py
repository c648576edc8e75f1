"""How good an SAE is, and splicing its reconstruction into a network.

``sae_metrics`` measures reconstruction and sparsity on a set of activations; ``splice``
is the hook function that replaces an activation by the SAE's reconstruction (optionally
plus the error term, so that the network is reproduced exactly); ``fraction_recovered``
turns three energies (or losses) from an evaluator into the fraction recovered. Usage::

    m = sae_metrics(sae, acts_ND)
    lens.run_with_hooks(sigma_BN, {"hidden.post": lambda h: splice(sae, h, keep_error=False)})
    fraction_recovered(e_zero, e_sae, e_clean)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
import pandas as pd
from jax.typing import ArrayLike

from physlens.errors import PhyslensError
from physlens.lens.sae.base import SAE, as_acts, decode, decode_normalised, encode, normalise, pre_activations

# A latent firing on more than this fraction of inputs counts as dense (the cut for
# high-frequency latents in Rajamanoharan et al. 2024's evaluation of JumpReLU SAEs).
DENSE_ABOVE = 0.1


@dataclass(frozen=True)
class SAEMetrics:
    """Reconstruction and sparsity of an SAE on N inputs.

    Attributes:
        mse: mean over inputs and components of (x − x̂)², in input units squared.
        explained_variance: 1 − Σ‖x − x̂‖² / Σ‖x − x̄‖², x̄ the mean of these inputs.
        l0: mean number of active latents per input.
        dead_fraction: fraction of latents active on none of the inputs.
        dense_fraction: fraction of latents active on more than ``dense_above`` of the inputs.
        shrinkage: Σ‖x̂ − μ‖ / Σ‖x − μ‖ with μ the SAE's stored input mean; below 1 when
            reconstructions are shrunk towards the mean.
        dense_above: the firing-frequency cut used for ``dense_fraction``.
        n_inputs: N.
    """

    mse: float
    explained_variance: float
    l0: float
    dead_fraction: float
    dense_fraction: float
    shrinkage: float
    dense_above: float
    n_inputs: int

    def to_frame(self) -> pd.DataFrame:
        """A one-row frame with one column per attribute."""
        return pd.DataFrame([asdict(self)])


@jax.jit
def _chunk_sums(sae: SAE, acts_BD: jax.Array) -> dict[str, jax.Array]:
    """Additive statistics of one chunk, in the SAE's normalised coordinates."""
    x_BD = normalise(sae, acts_BD)
    latents_BF = sae.cfg.activate(pre_activations(sae.params, x_BD), sae.params)
    recon_BD = decode_normalised(sae.params, latents_BF)
    active_BF = latents_BF > 0
    return {
        "sq_err": jnp.sum((x_BD - recon_BD) ** 2),
        "sum_x_D": jnp.sum(x_BD, axis=0),
        "sum_sq_x": jnp.sum(x_BD**2),
        "fires_F": jnp.sum(active_BF, axis=0),
        "norm_recon": jnp.sum(jnp.linalg.norm(recon_BD, axis=-1)),
        "norm_x": jnp.sum(jnp.linalg.norm(x_BD, axis=-1)),
    }


def sae_metrics(
    sae: SAE, acts_ND: jax.Array, *, dense_above: float = DENSE_ABOVE, chunk_size: int = 65_536
) -> SAEMetrics:
    """Metrics of ``sae`` on activations (N, D) in input units, evaluated ``chunk_size`` inputs at a time."""
    acts_ND = as_acts(acts_ND, sae.cfg.d_in)
    if not 0 <= dense_above <= 1:
        raise PhyslensError(f"dense_above must lie in [0, 1], got {dense_above!r}")
    if chunk_size < 1:
        raise PhyslensError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    n, d = acts_ND.shape
    chunks = [_chunk_sums(sae, acts_ND[i : i + chunk_size]) for i in range(0, n, chunk_size)]
    total = jax.tree_util.tree_map(lambda *xs: sum(xs), *chunks)
    spread = total["sum_sq_x"] - jnp.sum(total["sum_x_D"] ** 2) / n
    freq_F = total["fires_F"] / n
    dead_F, dense_F = (freq_F == 0).astype(jnp.float64), (freq_F > dense_above).astype(jnp.float64)
    return SAEMetrics(
        mse=float(total["sq_err"] * sae.rms_norm**2 / (n * d)),
        explained_variance=float(1.0 - total["sq_err"] / spread),
        l0=float(jnp.sum(total["fires_F"]) / n),
        dead_fraction=float(jnp.mean(dead_F)),
        dense_fraction=float(jnp.mean(dense_F)),
        shrinkage=float(total["norm_recon"] / total["norm_x"]),
        dense_above=float(dense_above),
        n_inputs=int(n),
    )


def splice(
    sae: SAE,
    acts_BD: jax.Array,
    keep_error: bool,
    edit: Callable[[jax.Array], jax.Array] | None = None,
) -> jax.Array:
    """The SAE's reconstruction of activations (..., D), input units, for a hook point.

    ``edit`` (optional) rewrites the latents (..., F) before decoding (ablate, clamp,
    steer). With ``keep_error`` the error term x − x̂ (x̂ the unedited reconstruction) is
    added back, computed as x + (x̂_edited − x̂): without an edit the input returns bit for
    bit, and an edit moves it by exactly its effect on the reconstruction.
    """
    latents_BF = encode(sae, acts_BD)
    recon_BD = decode(sae, latents_BF)
    spliced_BD = recon_BD if edit is None else decode(sae, edit(latents_BF))
    if not keep_error:
        return spliced_BD
    return acts_BD + (spliced_BD - recon_BD)


def fraction_recovered(e_zero: ArrayLike, e_sae: ArrayLike, e_clean: ArrayLike) -> ArrayLike:
    """(e_zero − e_sae) / (e_zero − e_clean): 1 when splicing the SAE costs nothing, 0 when it
    is as bad as zero-ablation. Energies (or losses) of the clean network, the network with
    the SAE spliced in, and the network with the site zero-ablated, in one unit; floats or
    arrays of one shape.
    """
    return (e_zero - e_sae) / (e_zero - e_clean)


def fidelity(log_psi_S: ArrayLike, log_psi_sae_S: ArrayLike, weights_S: ArrayLike | None = None) -> float:
    """|⟨ψ|ψ_sae⟩|² / (⟨ψ|ψ⟩⟨ψ_sae|ψ_sae⟩) from log-amplitudes at S configurations, ``(S,)`` each.

    With ``weights_S`` None the configurations are samples of |ψ|² (uniform weights); for an
    enumerated basis pass the Born weights |ψ(σ)|² (any normalisation). Either way, with
    ρ(σ) = ψ_sae(σ)/ψ(σ), the fidelity is |Σ w ρ|² / (Σ w · Σ w |ρ|²), exact for the full basis.
    """
    log_psi_S, log_psi_sae_S = jnp.asarray(log_psi_S), jnp.asarray(log_psi_sae_S)
    if log_psi_S.ndim != 1 or log_psi_S.shape != log_psi_sae_S.shape:
        raise PhyslensError(f"log-amplitudes must be two (S,) arrays; got {log_psi_S.shape} and {log_psi_sae_S.shape}")
    w_S = jnp.ones_like(jnp.real(log_psi_S)) if weights_S is None else jnp.asarray(weights_S, dtype=jnp.float64)
    log_ratio_S = log_psi_sae_S - log_psi_S
    ratio_S = jnp.exp(log_ratio_S - jnp.max(jnp.real(log_ratio_S)))
    return float(jnp.abs(jnp.sum(w_S * ratio_S)) ** 2 / (jnp.sum(w_S) * jnp.sum(w_S * jnp.abs(ratio_S) ** 2)))
