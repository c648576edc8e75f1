"""Steer one SAE feature of an evolving network at time t₀ and follow the steered state in time.

The SAE of a trajectory (``physlens.quantum.trajectory_features``) reads the real part of a site's complex
activations. Steering feature f rewrites that site as in ``physlens.lens.steering``,

    x ↦ x + decode(edit(z)) − decode(z),    z = encode(Re x),

with the edit z_f ↦ s·z_f (``scale``), z_f ↦ s (``clamp``) or z_f ↦ z_f + s (``add``); the error term is kept, so
the identity edit is the network bit for bit. Two ways of following the edit in time, both full sums over the basis:

- **steer, then evolve** (what physics does with the edit): the steered network at the saved time t₀ is a state
  ψ_s(t₀); it is evolved exactly, exp(−i H (t − t₀)) ψ_s(t₀) (``scipy.sparse.linalg.expm_multiply``), beside the
  exact evolution of the unsteered network at t₀. Their difference Δ_propagated(t) is the edit's effect carried
  forward by the Hamiltonian. The energy of each and the overlap of the two are conserved (unitarity).
- **evolve, then steer** (what the feature means at t): the TDVP network saved at t, steered with the same
  edit, against the same network unsteered: Δ_feature(t).

Δ_propagated(t₀) = Δ_feature(t₀). Where the two stay equal, steering the feature commutes with the dynamics: the
feature is a variable the evolution carries; where they part, the feature's meaning at t₀ is not what the edit
becomes under H.

    evolution = load("docs/studies/dynamics/runs/tfim12-h0.5-to-h1.0-dt0.0125")
    features = features_over_time(evolution, TrajectoryFeatureConfig(d_sae=32, k=4, n_steps=400))
    steered = steer_and_evolve(evolution, features, feature=4, strengths=[0.5, 1.5], k0=0)
    steered.frame()          # t, strength, observable, steer_then_evolve, evolve_then_steer, deltas
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt
import pandas as pd

from physlens.errors import PhyslensError, check_choice
from physlens.lens.sae import SAE, decode, encode
from physlens.lens.steering import MODES, steering_edits
from physlens.quantum.dynamics import Evolution
from physlens.quantum.quench import BasisObservables, Trajectory, evolve_vector, fidelity
from physlens.quantum.registry import lens_of, model_from_spec
from physlens.quantum.trajectory_features import FeaturesOverTime

CHUNK = 16_384
"""Configurations per jitted pass of the steered network."""


def steered_log_psi(model: nn.Module, variables: Any, sae: SAE, hook: str, scale_KF: np.ndarray, shift_KF: np.ndarray,
                    sigma_SN: np.ndarray) -> np.ndarray:
    """log ψ of ``sigma_SN`` ``(S, N)`` under K latent edits z ↦ z·scale + shift (``(K, F)`` each) of the SAE at
    ``hook`` (read on the real part of the activations), shape ``(K, S)``, complex, unnormalised."""
    lens = lens_of(model, variables)

    def one(scale_F, shift_F, x_BN):
        def rewrite(acts):
            z = encode(sae, jnp.real(acts))
            return acts + (decode(sae, z * scale_F + shift_F) - decode(sae, z))
        return lens.run_with_hooks(x_BN, {hook: rewrite})

    run = jax.jit(jax.vmap(one, in_axes=(0, 0, None)))
    blocks = [np.asarray(run(jnp.asarray(scale_KF), jnp.asarray(shift_KF), jnp.asarray(sigma_SN[i:i + CHUNK], float)))
              for i in range(0, len(sigma_SN), CHUNK)]
    return np.concatenate(blocks, axis=1)


def _normalised(log_psi_KS: np.ndarray) -> np.ndarray:
    psi_KS = np.exp(log_psi_KS - log_psi_KS.real.max(axis=1, keepdims=True))
    return psi_KS / np.linalg.norm(psi_KS, axis=1, keepdims=True)


@dataclass(frozen=True)
class SteeredDynamics:
    """One feature steered at t₀ at K strengths, followed both ways (see the module docstring).

    Attributes:
        feature: the steered SAE feature. mode: ``scale``, ``clamp`` or ``add``.
        strengths_K: the strengths, ``(K,)``.
        times_T: the saved times from t₀ on (t₀ = ``times_T[0]``), in 1/[energy unit].
        steer_then_evolve: per strength, the exactly evolved steered state (K trajectories).
        reference: the exactly evolved unsteered network at t₀.
        evolve_then_steer: per strength, the saved TDVP networks steered (K trajectories).
        nqs: the saved TDVP networks, unsteered.
        commute_KT: |⟨steer-then-evolve|evolve-then-steer⟩|² per strength and time, ``(K, T)``.
        tdvp_fidelity_T: |⟨exact evolution of the network at t₀ | TDVP network⟩|², ``(T,)``.
        overlap_KT: |⟨steered|unsteered⟩|² along the exact evolution, ``(K, T)`` (constant: unitarity).
    """

    feature: int
    mode: str
    strengths_K: np.ndarray
    times_T: np.ndarray
    steer_then_evolve: list[Trajectory]
    reference: Trajectory
    evolve_then_steer: list[Trajectory]
    nqs: Trajectory
    commute_KT: np.ndarray
    tdvp_fidelity_T: np.ndarray
    overlap_KT: np.ndarray

    def frame(self) -> pd.DataFrame:
        """One row per (strength, time, observable): both steered values, both unsteered values, Δ_propagated,
        Δ_feature, and the commutation fidelity; observables as in ``Trajectory.frame`` (S = σ/2, ħ = 1)."""
        reference, nqs = self.reference.frame().drop(columns="t"), self.nqs.frame().drop(columns="t")
        parts = []
        for k, strength in enumerate(self.strengths_K):
            propagated = self.steer_then_evolve[k].frame().drop(columns="t")
            feature = self.evolve_then_steer[k].frame().drop(columns="t")
            for name in propagated.columns:
                parts.append(pd.DataFrame({
                    "t": self.times_T, "strength": strength, "observable": name,
                    "steer_then_evolve": propagated[name], "unsteered_exact": reference[name],
                    "evolve_then_steer": feature[name], "unsteered_tdvp": nqs[name],
                    "delta_propagated": propagated[name] - reference[name], "delta_feature": feature[name] - nqs[name],
                    "commute_fidelity": self.commute_KT[k], "tdvp_fidelity": self.tdvp_fidelity_T}))
        return pd.concat(parts, ignore_index=True)


def steer_and_evolve(evolution: Evolution, features: FeaturesOverTime, feature: int, strengths: npt.ArrayLike, *,
                     k0: int = 0, mode: str = "scale") -> SteeredDynamics:
    """Steer ``feature`` of ``features.sae`` in the network saved at time index ``k0`` at ``strengths`` ``(K,)`` and
    follow it to the last saved time both ways (module docstring). The SAE must read real parts (``part="real"``)."""
    check_choice("steering mode", mode, MODES)
    if features.data.part != "real":
        raise PhyslensError(f"steering needs an SAE on the real part of the activations (part='real'); this one reads "
                            f"part={features.data.part!r}, whose edits have no inverse on complex activations")
    n_saved = len(evolution.fidelity_T)
    if not 0 <= k0 < n_saved - 1:
        raise PhyslensError(f"k0 must be a saved time with a later one, 0..{n_saved - 2}; got {k0}")
    strengths_K = np.asarray(strengths, dtype=float).reshape(-1)
    if strengths_K.size == 0:
        raise PhyslensError("give at least one steering strength")
    edits = steering_edits(features.data.hook, feature, strengths_K, features.sae.cfg.d_sae, mode)
    scale_KF, shift_KF = np.asarray(edits.scale), np.asarray(edits.shift)
    system = evolution.config.build_quench().after
    basis = BasisObservables(system)
    model = model_from_spec(evolution.config.model)
    times_T = evolution.nqs.times_T[k0:]

    steered_TKS, plain_TS = [], []
    for k in range(k0, n_saved):
        variables = evolution.parameters(k)
        log_psi_KS = steered_log_psi(model, variables, features.sae, features.data.hook, scale_KF, shift_KF,
                                     basis.basis_SN)
        plain_TS.append(_normalised(np.asarray(model.apply(variables, basis.basis_SN))[None])[0])
        steered_TKS.append(_normalised(log_psi_KS))
    steered_TKS, plain_TS = np.stack(steered_TKS), np.stack(plain_TS)

    starts_SK = np.concatenate([plain_TS[0][:, None], steered_TKS[0].T], axis=1)
    exact_TSK = evolve_vector(system.sparse_hamiltonian(), starts_SK, times_T - times_T[0]).reshape(
        len(times_T), -1, len(strengths_K) + 1)
    exact_KTS = np.moveaxis(exact_TSK, 2, 0)
    reference_TS, propagated_KTS = exact_KTS[0], exact_KTS[1:]
    steered_KTS = np.moveaxis(steered_TKS, 1, 0)

    def traj(psi_TS, method):
        return basis.trajectory(psi_TS, times_T, method)

    return SteeredDynamics(
        feature=feature, mode=mode, strengths_K=strengths_K, times_T=times_T,
        steer_then_evolve=[traj(p, "steered at t0, exact evolution") for p in propagated_KTS],
        reference=traj(reference_TS, "network at t0, exact evolution"),
        evolve_then_steer=[traj(p, "TDVP network, steered") for p in steered_KTS],
        nqs=traj(plain_TS, "TDVP network"),
        commute_KT=np.stack([fidelity(a, b) for a, b in zip(propagated_KTS, steered_KTS)]),
        tdvp_fidelity_T=fidelity(reference_TS, plain_TS),
        overlap_KT=np.stack([fidelity(p, reference_TS) for p in propagated_KTS]))

