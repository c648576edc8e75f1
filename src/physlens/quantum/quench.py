"""Quenches as data, and their exact dynamics by Krylov time evolution on the whole basis.

A ``Quench`` names the system the state evolves under (``after``) and where it starts: the
exact ground state of a pre-quench system (``before``, same Hilbert space) or the Néel
product state. ``exact_trajectory`` evolves the start with ``scipy.sparse.linalg.expm_multiply``
on ``after.sparse_hamiltonian()`` (ħ = 1: times in 1/[energy unit]) and measures, at every
time of a uniform grid, the observables of ``Trajectory``. ``vector_trajectory`` measures the
same observables of any state vectors over ``hilbert.all_states()`` — the NQS of
``physlens.quantum.dynamics`` goes through the same function, so exact and variational
curves are computed alike.

Usage::

    quench = Quench.tfim(12, h_before=0.5, h_after=1.0)
    traj = exact_trajectory(quench, time_grid(t_end=2.0, dt=0.05))
    traj.frame()                     # t, m_x, m_z, m_s, czz_0 … czz_6, half_chain, energy, energy_drift
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse.linalg

from physlens.errors import PhyslensError, check_choice
from physlens.quantum.observables import (czz_per_config, magnetisation_per_config, staggered_magnetisation_per_config,
                                          sublattice_sign)
from physlens.quantum.systems import SpinSystem, TFIMChain, system_from_params

STARTS = ("ground", "neel")
"""Where a quench starts: the exact ground state of ``before``, or the Néel product state."""


@dataclass(frozen=True)
class Quench:
    """A sudden change of Hamiltonian at t = 0.

    Attributes:
        after: the system whose Hamiltonian generates the dynamics (t > 0).
        before: the pre-quench system whose ground state is the start (``start="ground"``);
            None for the Néel start. It must share ``after``'s Hilbert space.
        start: ``ground`` or ``neel`` (the product state with σ_i = ε_i, ε the sublattice
            sign: ↑ on even sites). With the Marshall sign rule the Heisenberg Hamiltonian is
            written in a rotated basis U = Π_{i odd} σᶻ_i; a basis configuration is mapped to
            ±itself by U, so the Néel state is the same single configuration in both bases.
    """

    after: SpinSystem
    before: SpinSystem | None = None
    start: str = "ground"

    def __post_init__(self):
        check_choice("start", self.start, STARTS)
        if self.start == "ground":
            if self.before is None:
                raise PhyslensError("a quench from a ground state needs the pre-quench system (before); "
                                    "allowed: before=<system>, or start='neel'")
            if self.before.hilbert != self.after.hilbert:
                raise PhyslensError(f"the systems before and after a quench must share one Hilbert space; got "
                                    f"{self.before.kind} N={self.before.n_sites} and "
                                    f"{self.after.kind} N={self.after.n_sites}")
        elif self.before is not None:
            raise PhyslensError("a quench from the Néel state has no pre-quench system; allowed: before=None")

    @classmethod
    def tfim(cls, n: int, h_before: float, h_after: float, J: float = 1.0, pbc: bool = True) -> Quench:
        """TFIM chain of N sites from the ground state at field ``h_before`` evolved at ``h_after`` (units of J)."""
        return cls(TFIMChain(n, h=h_after, J=J, pbc=pbc), TFIMChain(n, h=h_before, J=J, pbc=pbc), "ground")

    @classmethod
    def neel(cls, system: SpinSystem) -> Quench:
        """The Néel product state evolved under ``system`` (a chain or ring; a Heisenberg ring typically)."""
        return cls(system, None, "neel")

    def params(self) -> dict:
        """Plain-data form (for ``config.toml``): ``start``, ``after`` and, for a ground start, ``before``."""
        out = {"start": self.start, "after": self.after.params()}
        if self.before is not None:
            out["before"] = self.before.params()
        return out

    @classmethod
    def from_params(cls, params: dict) -> Quench:
        """Inverse of ``params``."""
        before = params.get("before")
        return cls(system_from_params(params["after"]), None if before is None else system_from_params(before),
                   params.get("start", "ground"))

    def initial_vector(self) -> np.ndarray:
        """The normalised start ``(S,)`` in ``hilbert.all_states()`` order, complex."""
        if self.start == "neel":
            return neel_vector(self.after)
        state = self.before.exact().state
        if state is None:
            raise PhyslensError(f"{self.before.kind} N={self.before.n_sites} is too large to keep its exact "
                                "ground state")
        return np.asarray(state, dtype=complex)


def neel_configuration(system: SpinSystem) -> np.ndarray:
    """The Néel configuration σ_i = ε_i (↑ = +1 on even sites), shape ``(N,)``."""
    sigma_N = sublattice_sign(system)
    if sigma_N.sum() != 0 and system.conserves_sz:
        raise PhyslensError(f"{system.kind} N={system.n_sites} has no Néel state in its S^z = 0 sector")
    return sigma_N


def neel_vector(system: SpinSystem) -> np.ndarray:
    """The Néel state as a basis vector ``(S,)`` over ``hilbert.all_states()``, complex."""
    index = int(np.asarray(system.hilbert.states_to_numbers(neel_configuration(system)[None]))[0])
    psi_S = np.zeros(system.hilbert.n_states, dtype=complex)
    psi_S[index] = 1.0
    return psi_S


def time_grid(t_end: float, dt: float) -> np.ndarray:
    """Uniform times 0, dt, …, t_end, shape ``(T,)`` (rounded to 12 decimals, so 3 · 0.05 reads 0.15);
    ``t_end`` must be a whole number of ``dt`` (> 0)."""
    if not (dt > 0 and t_end > 0):
        raise PhyslensError(f"t_end and dt must be > 0; got t_end={t_end}, dt={dt}")
    n_steps = int(round(t_end / dt))
    if n_steps < 1 or abs(n_steps * dt - t_end) > 1e-9 * max(1.0, t_end):
        raise PhyslensError(f"t_end ({t_end}) must be a whole number of time steps ({dt}); allowed: e.g. "
                            f"t_end={max(n_steps, 1) * dt:g}")
    return np.round(dt * np.arange(n_steps + 1), 12)


def evolve_vector(h_SS: scipy.sparse.spmatrix, psi0_S: np.ndarray, times_T: np.ndarray) -> np.ndarray:
    """exp(−i H t) ψ₀ at each time of the uniform grid ``times_T`` (ħ = 1), shape ``(T, S)``, complex.

    One Krylov (truncated Taylor with scaling, Al-Mohy–Higham) pass of
    ``scipy.sparse.linalg.expm_multiply`` over the whole grid.
    """
    times_T = np.asarray(times_T, dtype=float)
    if len(times_T) > 1 and not np.allclose(np.diff(times_T), times_T[1] - times_T[0], rtol=1e-9, atol=0):
        raise PhyslensError("exact evolution needs a uniform time grid (time_grid(t_end, dt))")
    psi0_S = np.asarray(psi0_S, dtype=complex)
    if len(times_T) == 1:
        return scipy.sparse.linalg.expm_multiply(-1j * times_T[0] * h_SS, psi0_S)[None]
    return scipy.sparse.linalg.expm_multiply(-1j * h_SS, psi0_S, start=times_T[0], stop=times_T[-1],
                                             num=len(times_T), endpoint=True)


@dataclass(frozen=True)
class Trajectory:
    """Observables of a state against time (ħ = 1; spin operators S = σ/2).

    Attributes:
        times_T: times, shape ``(T,)``, in 1/[energy unit].
        m_x_T: (1/N) Σ_i ⟨S^x_i⟩, in ħ (zero by symmetry in an S^z-conserving sector, where it is not measured).
        m_z_T: (1/N) Σ_i ⟨S^z_i⟩, in ħ.
        m_s_T: staggered (1/N) Σ_i ε_i ⟨S^z_i⟩, in ħ.
        czz_TR: C_zz(r, t) = (1/N) Σ_i ⟨S^z_i S^z_{i+r}⟩, r = 0 … N//2, in ħ².
        energy_T: ⟨H⟩ of the post-quench Hamiltonian, in ``unit``.
        unit: the energy unit.
        method: how the states were obtained (``exact (expm_multiply)``, ``TDVP …``).
    """

    times_T: np.ndarray
    m_x_T: np.ndarray
    m_z_T: np.ndarray
    m_s_T: np.ndarray
    czz_TR: np.ndarray
    energy_T: np.ndarray
    unit: str
    method: str

    @property
    def half_chain_T(self) -> np.ndarray:
        """(1/N) Σ_i ⟨S^z_i S^z_{i+N/2}⟩ = C_zz(N//2, t), shape ``(T,)``, in ħ²."""
        return self.czz_TR[:, -1]

    @property
    def energy_drift_T(self) -> np.ndarray:
        """E(t) − E(0), shape ``(T,)``, in ``unit`` (zero for exact unitary evolution)."""
        return self.energy_T - self.energy_T[0]

    def frame(self) -> pd.DataFrame:
        """One row per time: t, m_x, m_z, m_s, czz_0 … czz_{N//2}, half_chain, energy, energy_drift."""
        columns = {"t": self.times_T, "m_x": self.m_x_T, "m_z": self.m_z_T, "m_s": self.m_s_T}
        columns |= {f"czz_{r}": self.czz_TR[:, r] for r in range(self.czz_TR.shape[1])}
        columns |= {"half_chain": self.half_chain_T, "energy": self.energy_T, "energy_drift": self.energy_drift_T}
        return pd.DataFrame(columns)


class BasisObservables:
    """Per-configuration tables of one system over ``hilbert.all_states()``, built once.

    Attributes:
        system: the system whose basis and Hamiltonian are used.
    """

    def __init__(self, system: SpinSystem):
        self.system = system

    @cached_property
    def basis_SN(self) -> np.ndarray:
        """Every configuration of ``system.hilbert`` (±1 spins) in ``all_states()`` order, shape ``(S, N)``."""
        return np.asarray(self.system.hilbert.all_states())

    @cached_property
    def tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """m_z ``(S,)``, m_s ``(S,)`` and C_zz(r) ``(S, R)`` of every basis configuration."""
        return (magnetisation_per_config(self.basis_SN), staggered_magnetisation_per_config(self.system, self.basis_SN),
                czz_per_config(self.system, self.basis_SN))

    @cached_property
    def flips_NS(self) -> np.ndarray | None:
        """Index of σ with spin i flipped, shape ``(N, S)``; None where S^z is conserved (a flip leaves the sector)."""
        if self.system.conserves_sz:
            return None
        hilbert = self.system.hilbert
        flipped_NSN = np.repeat(self.basis_SN[None], self.system.n_sites, axis=0)
        for i in range(self.system.n_sites):
            flipped_NSN[i, :, i] *= -1
        return np.asarray(hilbert.states_to_numbers(flipped_NSN.reshape(-1, self.system.n_sites))).reshape(
            self.system.n_sites, -1)

    def trajectory(self, psi_TS: np.ndarray, times_T: np.ndarray, method: str) -> Trajectory:
        """Observables of the state vectors ``psi_TS`` ``(T, S)`` (normalised here) at ``times_T`` ``(T,)``."""
        psi_TS = np.atleast_2d(np.asarray(psi_TS, dtype=complex))
        psi_TS = psi_TS / np.linalg.norm(psi_TS, axis=1, keepdims=True)
        p_TS = np.abs(psi_TS) ** 2
        m_z_S, m_s_S, czz_SR = self.tables
        h_psi_ST = self.system.sparse_hamiltonian() @ psi_TS.T
        energy_T = np.real(np.einsum("ts,st->t", psi_TS.conj(), h_psi_ST))
        if self.flips_NS is None:
            m_x_T = np.zeros(len(psi_TS))
        else:
            overlap_TN = np.einsum("tns,ts->tn", psi_TS[:, self.flips_NS].conj(), psi_TS)
            m_x_T = np.real(overlap_TN).mean(axis=1) / 2.0
        return Trajectory(np.asarray(times_T, dtype=float), m_x_T, p_TS @ m_z_S, p_TS @ m_s_S, p_TS @ czz_SR,
                          energy_T, self.system.energy_unit, method)


def vector_trajectory(system: SpinSystem, psi_TS: np.ndarray, times_T: np.ndarray, method: str) -> Trajectory:
    """Observables of state vectors ``(T, S)`` over ``system.hilbert.all_states()``; energies of ``system``."""
    return BasisObservables(system).trajectory(psi_TS, times_T, method)


def exact_states(quench: Quench, times_T: np.ndarray) -> np.ndarray:
    """The exactly evolved start at ``times_T`` (uniform grid), shape ``(T, S)``."""
    return evolve_vector(quench.after.sparse_hamiltonian(), quench.initial_vector(), times_T)


def exact_trajectory(quench: Quench, times_T: np.ndarray) -> Trajectory:
    """Exact observables of the quench at ``times_T`` (uniform grid, from 0)."""
    return vector_trajectory(quench.after, exact_states(quench, times_T), times_T, "exact (expm_multiply)")


def fidelity(psi_a_TS: np.ndarray, psi_b_TS: np.ndarray) -> np.ndarray:
    """|⟨ψ_a|ψ_b⟩|² / (⟨ψ_a|ψ_a⟩⟨ψ_b|ψ_b⟩) row by row, shape ``(T,)``, in [0, 1]."""
    psi_a_TS, psi_b_TS = np.atleast_2d(psi_a_TS), np.atleast_2d(psi_b_TS)
    overlap_T = np.einsum("ts,ts->t", psi_a_TS.conj(), psi_b_TS)
    norms_T = np.linalg.norm(psi_a_TS, axis=1) ** 2 * np.linalg.norm(psi_b_TS, axis=1) ** 2
    return np.abs(overlap_T) ** 2 / norms_T
