"""A table of per-configuration observables, one column per observable, for feature matching.

``observable_table(system, sigma_SN, log_psi_fn)`` evaluates, for each spin
configuration σ (values ±1, S^z_i = σ_i/2 in ħ), the observables an interpretable
feature might track. Born-weighted averages of a column over the exact basis are the
quantum expectation values (diagonal ones exactly; local ones because
⟨O⟩ = Σ_σ |ψ(σ)|² O_loc(σ)/Σ|ψ|²). Columns (S,) each:

- ``m_z``, ``abs_m_z``: magnetisation (1/N) Σ S^z_i and its modulus, in ħ.
- ``m_s``, ``abs_m_s``: staggered magnetisation (1/N) Σ ε_i S^z_i and modulus, in ħ
  (chains, rings and square lattices).
- ``c_nn``: nearest-neighbour correlator, the mean of S^z_i S^z_j over ``system.bonds``, in ħ².
- ``c_far``: the correlator at the largest distance, (1/N) Σ_i S^z_i S^z_{i+R} with
  R = N/2 on a chain (the half-chain correlator) and (L/2, L/2) on an L×L lattice, in ħ²
  (needs even sides).
- chains and rings only: ``halves``, m_A m_B with m_A, m_B = (2/N) Σ S^z_i over the first and
  the second half of the sites (in ħ², so that ``connected_halves`` of the Born weights is
  the connected correlation ⟨m_A m_B⟩ − ⟨m_A⟩⟨m_B⟩ between the two halves).
- ``domain_walls``: number of bonds whose two spins are antiparallel (a count).
- ``e_loc``: local energy Re E_loc(σ), in the system's energy unit (needs ``log_psi_fn``).
- ``bond_energy_x``, ``bond_energy_y`` (``bond_energy`` on a chain): local value of the
  bond terms of H averaged over the bonds of each lattice direction, in the energy unit.
- toric code only: ``plaquettes`` (mean of B_p = Π σᶻ, diagonal) and ``stars`` (mean of the
  local values A_v ψ/ψ, needs ``log_psi_fn``), dimensionless stabiliser values.

Usage::

    table = observable_table(system, sigma_SN, log_psi_fn)
    table.values["abs_m_s"], table.units["e_loc"], table.to_frame()
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.quantum import observables as obs
from physlens.quantum.systems import SpinSystem, ToricCode

HBAR, HBAR2 = "ħ", "ħ²"


@dataclass(frozen=True)
class ObservableTable:
    """Per-configuration observables.

    Attributes:
        values: name → values of each configuration, shape ``(S,)``.
        units: name → unit of the column.
    """

    values: dict[str, np.ndarray]
    units: dict[str, str]

    def to_frame(self) -> pd.DataFrame:
        """One row per configuration, one column per observable."""
        return pd.DataFrame(self.values)


def _sz(sigma_SN: np.ndarray) -> np.ndarray:
    return np.asarray(sigma_SN, dtype=float) / 2.0


def far_partner(system: SpinSystem) -> np.ndarray:
    """Index of the site at the largest periodic distance from each site, shape ``(N,)``.

    i + N/2 on a chain of N sites, (x + L/2, y + L/2) on an L×L lattice.
    """
    pos_ND, extent_D, _ = obs._grid(system)
    if np.any(extent_D % 2):
        raise PhyslensError(f"the largest-distance correlator needs even lattice sides; got {tuple(extent_D)}")
    index = np.empty(tuple(extent_D), dtype=int)
    index[tuple(pos_ND.T)] = np.arange(len(pos_ND))
    return index[tuple(((pos_ND + extent_D // 2) % extent_D).T)]


def half_magnetisations(system: SpinSystem, sigma_SN: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """m_A and m_B, the magnetisation per site (ħ) of the first and second half of a chain's sites along x, ``(S,)`` each."""
    if system.coords.shape[1] != 1 or system.n_sites % 2:
        raise PhyslensError(f"the two halves need a chain of even length; got {system.kind} with {system.n_sites} sites")
    order = np.argsort(system.coords[:, 0], kind="stable")
    sz_SN = _sz(sigma_SN)[:, order]
    half = system.n_sites // 2
    return sz_SN[:, :half].mean(axis=1), sz_SN[:, half:].mean(axis=1)


def connected_halves(system: SpinSystem, sigma_SN: np.ndarray, weights_S: np.ndarray | None = None) -> float:
    """⟨m_A m_B⟩ − ⟨m_A⟩⟨m_B⟩ under the Born weights (uniform: samples), in ħ²; exact over the whole basis."""
    m_a_S, m_b_S = half_magnetisations(system, sigma_SN)
    w_S = np.ones(len(m_a_S)) if weights_S is None else np.asarray(weights_S, dtype=float)
    w_S = w_S / w_S.sum()
    return float(w_S @ (m_a_S * m_b_S) - (w_S @ m_a_S) * (w_S @ m_b_S))


def bond_directions(system: SpinSystem) -> np.ndarray:
    """Lattice direction (0 = x, 1 = y) of each bond of ``system.bonds``, shape ``(B,)``."""
    pos_ND, _, _ = obs._grid(system)
    bonds_B2 = system.bonds
    return (pos_ND[bonds_B2[:, 0], 0] == pos_ND[bonds_B2[:, 1], 0]).astype(int) if pos_ND.shape[1] == 2 \
        else np.zeros(len(bonds_B2), dtype=int)


def _bond_columns(system: SpinSystem, sigma_SN: np.ndarray, log_psi_fn) -> dict[str, np.ndarray]:
    energies_SB = np.real(obs.bond_energies_per_config(system, log_psi_fn, sigma_SN))
    direction_B = bond_directions(system)
    if system.coords.shape[1] == 1:
        return {"bond_energy": energies_SB.mean(axis=1)}
    return {f"bond_energy_{axis}": energies_SB[:, direction_B == d].mean(axis=1) for d, axis in enumerate("xy")}


def _toric_columns(system: ToricCode, sigma_SN: np.ndarray, log_psi_fn) -> dict[str, np.ndarray]:
    sigma_SN = np.asarray(sigma_SN)
    columns = {"plaquettes": np.prod(sigma_SN[:, system.plaquettes], axis=-1).mean(axis=1)}
    if log_psi_fn is not None:
        flip_VN = np.ones((len(system.stars), sigma_SN.shape[1]))
        np.put_along_axis(flip_VN, system.stars, -1.0, axis=1)
        flipped_SVN = sigma_SN[:, None, :] * flip_VN[None]
        log_flip_SV = np.asarray(log_psi_fn(flipped_SVN.reshape(-1, sigma_SN.shape[1]))).reshape(flipped_SVN.shape[:2])
        log_psi_S = np.asarray(log_psi_fn(sigma_SN))
        columns["stars"] = np.real(np.exp(log_flip_SV - log_psi_S[:, None])).mean(axis=1)
    return columns


def observable_table(system: SpinSystem, sigma_SN: np.ndarray, log_psi_fn: obs.LogPsiFn | None = None) -> ObservableTable:
    """The per-configuration observables of the module docstring for configurations ``(S, N)``.

    ``log_psi_fn`` maps ``(B, N)`` to log ψ ``(B,)``; without it the local columns
    (``e_loc``, bond energies, toric-code stars) are left out.
    """
    sigma_SN = np.asarray(sigma_SN)
    if sigma_SN.ndim != 2 or sigma_SN.shape[1] != system.n_sites or not np.all(np.abs(sigma_SN) == 1):
        raise PhyslensError(f"configurations must be ±1 with shape (S, {system.n_sites}); got {sigma_SN.shape}")
    sz_SN = _sz(sigma_SN)
    bonds_B2 = system.bonds
    values = {"m_z": sz_SN.mean(axis=1)}
    values["abs_m_z"] = np.abs(values["m_z"])
    units = {"m_z": HBAR, "abs_m_z": HBAR}
    if isinstance(system, ToricCode):
        values.update(_toric_columns(system, sigma_SN, log_psi_fn))
        units.update({name: "" for name in ("plaquettes", "stars") if name in values})
    else:
        values["m_s"] = obs.staggered_magnetisation_per_config(system, sigma_SN)
        values["abs_m_s"] = np.abs(values["m_s"])
        values["c_nn"] = (sz_SN[:, bonds_B2[:, 0]] * sz_SN[:, bonds_B2[:, 1]]).mean(axis=1)
        values["c_far"] = (sz_SN * sz_SN[:, far_partner(system)]).mean(axis=1)
        units.update(m_s=HBAR, abs_m_s=HBAR, c_nn=HBAR2, c_far=HBAR2)
        if system.coords.shape[1] == 1 and system.n_sites % 2 == 0:
            m_a_S, m_b_S = half_magnetisations(system, sigma_SN)
            values["halves"], units["halves"] = m_a_S * m_b_S, HBAR2
    values["domain_walls"] = (sigma_SN[:, bonds_B2[:, 0]] != sigma_SN[:, bonds_B2[:, 1]]).sum(axis=1).astype(float)
    units["domain_walls"] = "count"
    if log_psi_fn is not None:
        values["e_loc"] = np.real(obs.local_energy_per_config(system, log_psi_fn, sigma_SN))
        units["e_loc"] = system.energy_unit
        if not isinstance(system, ToricCode):
            bond_values = _bond_columns(system, sigma_SN, log_psi_fn)
            values.update(bond_values)
            units.update({name: system.energy_unit for name in bond_values})
    return ObservableTable(values, units)
