"""Observables of spin configurations, computed the same way for exact sums and samples.

A ``Configurations`` holds spin configurations σ (values ±1, S^z_i = σ_i/2 in units
of ħ) with weights: the whole basis with Born weights |ψ|²/Σ|ψ|² (exact) or Monte
Carlo samples with uniform weights. Per-configuration functions map ``sigma_SN`` to
values ``(S, ...)``: diagonal ones (C_zz(r), magnetisations, structure factor) from σ
alone, local ones (local and bond energies) from σ and a callable log ψ.
``expectation`` turns them into an ``Estimate`` with a standard error (zero when
exact); the convenience functions do both steps.

Usage::

    ring = HeisenbergRing(8)
    configs = Configurations.from_vstate(vstate)        # FullSumState: exact
    czz(ring, configs).value                            # (N//2 + 1,), in ħ²
    energy(ring, lambda s: vstate.log_value(s), configs)  # Estimate in units of J
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import netket as nk
import numpy as np

from physlens.errors import PhyslensError
from physlens.quantum.systems import HeisenbergRing, HeisenbergSquare, SpinSystem, TFIMChain, TFIMSquare

LogPsiFn = Callable[[np.ndarray], np.ndarray]
"""log ψ of a batch: configurations ``(B, N)`` → log-amplitudes ``(B,)`` (real or complex)."""

_SZ_SZ = np.diag([1.0, -1.0, -1.0, 1.0])
_EXCHANGE = np.array([[0.0, 0, 0, 0], [0, 0, 2, 0], [0, 2, 0, 0], [0, 0, 0, 0]])


@dataclass(frozen=True)
class Configurations:
    """Spin configurations with weights: the whole basis with Born weights (exact) or samples (uniform weights).

    Attributes:
        sigma_SN: configurations, shape ``(S, N)``, values ±1.
        weights_S: non-negative weights summing to 1, shape ``(S,)``.
        exact: True for a full enumeration with Born weights |ψ|²/Σ|ψ|²;
            False for Monte Carlo samples.
    """

    sigma_SN: np.ndarray
    weights_S: np.ndarray
    exact: bool

    def __post_init__(self):
        sigma_SN, weights_S = np.asarray(self.sigma_SN), np.asarray(self.weights_S, dtype=float)
        if sigma_SN.ndim != 2 or weights_S.shape != sigma_SN.shape[:1]:
            raise PhyslensError(f"configurations need sigma (S, N) and weights (S,); got {sigma_SN.shape} and {weights_S.shape}")
        if not np.all(np.abs(sigma_SN) == 1):
            raise PhyslensError("spin configurations must have values ±1 (NetKet Spin(1/2) convention)")
        if np.any(weights_S < 0) or not np.isclose(weights_S.sum(), 1.0, rtol=0, atol=1e-9):
            raise PhyslensError(f"weights must be non-negative and sum to 1; got sum {weights_S.sum():.6g}")
        object.__setattr__(self, "sigma_SN", sigma_SN)
        object.__setattr__(self, "weights_S", weights_S)

    @classmethod
    def from_log_psi(cls, sigma_SN: np.ndarray, log_psi_S: np.ndarray) -> Configurations:
        """Exact: all basis states ``(S, N)`` with weights ∝ exp(2 Re log ψ) (shifted by the maximum, so no overflow)."""
        log_p_S = 2.0 * np.real(np.asarray(log_psi_S))
        if log_p_S.ndim != 1 or not np.any(np.isfinite(log_p_S)):
            raise PhyslensError(f"log_psi must be a 1-d array with a finite entry; got shape {log_p_S.shape}")
        weights_S = np.exp(log_p_S - np.max(log_p_S))
        return cls(sigma_SN, weights_S / weights_S.sum(), exact=True)

    @classmethod
    def from_state_vector(cls, hilbert: nk.hilbert.DiscreteHilbert, psi_S: np.ndarray) -> Configurations:
        """Exact: amplitudes ``(S,)`` in ``hilbert.all_states()`` order (e.g. ``ExactReference.state``)."""
        p_S = np.abs(np.asarray(psi_S)) ** 2
        if p_S.shape != (hilbert.n_states,) or p_S.sum() == 0:
            raise PhyslensError(f"state vector must be non-zero with {hilbert.n_states} amplitudes "
                                f"(hilbert.all_states() order); got shape {p_S.shape}")
        return cls(np.asarray(hilbert.all_states()), p_S / p_S.sum(), exact=True)

    @classmethod
    def from_samples(cls, sigma_SN: np.ndarray) -> Configurations:
        """Monte Carlo samples ``(S, N)`` or NetKet's ``(chains, samples, N)`` (flattened), uniform weights."""
        sigma = np.asarray(sigma_SN)
        if sigma.ndim < 2 or sigma.size == 0:
            raise PhyslensError(f"samples must have shape (S, N) or (chains, samples, N); got {sigma.shape}")
        sigma = sigma.reshape(-1, sigma.shape[-1])
        return cls(sigma, np.full(len(sigma), 1.0 / len(sigma)), exact=False)

    @classmethod
    def from_vstate(cls, vstate: nk.vqs.VariationalState) -> Configurations:
        """``FullSumState``: exact (its probability distribution on all states); ``MCState``: its current samples."""
        if isinstance(vstate, nk.vqs.FullSumState):
            return cls(np.asarray(vstate.hilbert.all_states()), np.asarray(vstate.probability_distribution()), exact=True)
        if isinstance(vstate, nk.vqs.MCState):
            return cls.from_samples(vstate.samples)
        raise PhyslensError(f"unsupported variational state {type(vstate).__name__}; allowed: FullSumState, MCState")


@dataclass(frozen=True)
class Estimate:
    """An observable's value with its standard error (0 when exact) and how it was computed.

    Attributes:
        value: the expectation value, a scalar or an array (e.g. ``(R,)`` for C_zz(r)).
        error: standard error of the mean, same shape; zeros when exact.
        exact: True when computed by exact summation with Born weights.
        unit: ``"ħ"`` for magnetisations, ``"ħ²"`` for products of two S^z,
            the system's ``energy_unit`` for energies.
    """

    value: np.ndarray
    error: np.ndarray
    exact: bool
    unit: str


def expectation(values_S: np.ndarray, configs: Configurations, unit: str = "", n_eff: float | None = None) -> Estimate:
    """Weighted mean over the first axis of ``values_S`` ``(S, ...)`` and its standard error.

    Exact: error 0. Samples: error = sqrt(Σ_s w_s |v_s − v̄|² / (n − 1)), with
    n = ``n_eff`` if given, else the Kish size 1/Σ w² (= S for uniform weights, giving
    std/√S with Bessel's correction). Monte Carlo autocorrelation is ignored unless
    the caller passes an effective sample count ``n_eff``. Configurations of zero
    weight do not contribute, even where their value is not finite (ψ(σ) = 0).
    """
    values = np.asarray(values_S)
    weights_S = configs.weights_S
    if values.shape[:1] != weights_S.shape:
        raise PhyslensError(f"values have leading shape {values.shape[:1]}; the configurations have S = {len(weights_S)}")
    mask = (weights_S > 0).reshape((-1,) + (1,) * (values.ndim - 1))
    values = np.where(mask, values, 0)
    mean = np.tensordot(weights_S, values, axes=1)
    if configs.exact:
        return Estimate(mean, np.zeros(np.shape(mean)), True, unit)
    n = float(n_eff) if n_eff is not None else 1.0 / np.sum(weights_S**2)
    if n <= 1:
        raise PhyslensError(f"a standard error needs more than one effective sample; got {n:g}")
    variance = np.tensordot(weights_S, np.abs(values - mean) ** 2, axes=1)
    return Estimate(mean, np.sqrt(variance / (n - 1)), False, unit)


def _grid(system: SpinSystem) -> tuple[np.ndarray, np.ndarray, bool]:
    """Integer site positions ``(N, d)`` from 0, lattice extent ``(d,)`` and periodicity."""
    coords_ND = np.asarray(system.coords, dtype=float)
    pos_ND = np.rint(coords_ND).astype(int)
    pos_ND -= pos_ND.min(axis=0)
    extent_D = pos_ND.max(axis=0) + 1
    if not np.allclose(coords_ND - coords_ND.min(axis=0), pos_ND) or np.prod(extent_D) != len(pos_ND):
        raise PhyslensError(f"{system.kind} has no sites on a full integer lattice; "
                            "this observable is defined on chains, rings and square lattices")
    return pos_ND, extent_D, bool(getattr(system, "pbc", True))


def _sz(sigma_SN: np.ndarray) -> np.ndarray:
    return np.asarray(sigma_SN, dtype=float) / 2.0


def czz_per_config(system: SpinSystem, sigma_SN: np.ndarray) -> np.ndarray:
    """C_zz(r) of each configuration, shape ``(S, R)``, in ħ².

    C_zz(r) = (1/N) Σ_i S^z_i S^z_{i+r} for r = 0 … N//2 along a chain or ring (i + r
    mod N when periodic). On an L×L square lattice r runs along x (the first
    coordinate of ``system.coords``), r = 0 … L//2, averaged over all sites. With open
    boundaries the average runs over the pairs that exist: (1/(N − r)) Σ_{i<N−r} on a
    chain, 1/(L(L − r)) on the square lattice.
    """
    pos_ND, extent_D, periodic = _grid(system)
    index = np.empty(tuple(extent_D), dtype=int)
    index[tuple(pos_ND.T)] = np.arange(len(pos_ND))
    x_RN = pos_ND[None, :, 0] + np.arange(extent_D[0] // 2 + 1)[:, None]
    partner_RN = index[(x_RN % extent_D[0],) + tuple(np.broadcast_to(p_N, x_RN.shape) for p_N in pos_ND[:, 1:].T)]
    valid_RN = np.ones(x_RN.shape) if periodic else (x_RN < extent_D[0]).astype(float)
    sz_SN = _sz(sigma_SN)
    pairs_SR = np.einsum("sn,srn,rn->sr", sz_SN, sz_SN[:, partner_RN], valid_RN)
    return pairs_SR / valid_RN.sum(axis=1)


def staggered_amplitude(czz_KR: np.ndarray) -> np.ndarray:
    """How antiferromagnetic a correlation function is: A = Σ_{r≥1} (−1)^r C_zz(r) / Σ_{r≥1} |C_zz(r)|, shape
    ``czz_KR.shape[:-1]``, dimensionless in [−1, 1]. A = 1 when every C_zz(r) has the Néel sign (−1)^r; A < 0
    means the staggered pattern is inverted (more weight on the wrong sign); NaN when C_zz(r ≥ 1) all vanish."""
    czz_KR = np.asarray(czz_KR, dtype=float)[..., 1:]
    sign_R = (-1.0) ** np.arange(1, czz_KR.shape[-1] + 1)
    total = np.abs(czz_KR).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (czz_KR * sign_R).sum(axis=-1) / total, np.nan)


def magnetisation_per_config(sigma_SN: np.ndarray) -> np.ndarray:
    """m = (1/N) Σ_i S^z_i of each configuration, shape ``(S,)``, in ħ."""
    return _sz(sigma_SN).mean(axis=1)


def sublattice_sign(system: SpinSystem) -> np.ndarray:
    """Bipartite sublattice sign ε_i = (−1)^(Σ_d x_d) from the integer site coordinates, shape ``(N,)``.

    (−1)^i on a chain, (−1)^(x+y) on a square lattice. On a periodic chain of odd
    length the lattice is not bipartite and ε is just (−1)^i.
    """
    pos_ND, _, _ = _grid(system)
    return (-1.0) ** pos_ND.sum(axis=1)


def staggered_magnetisation_per_config(system: SpinSystem, sigma_SN: np.ndarray) -> np.ndarray:
    """m_s = (1/N) Σ_i ε_i S^z_i of each configuration, shape ``(S,)``, in ħ (ε: ``sublattice_sign``)."""
    return _sz(sigma_SN) @ sublattice_sign(system) / system.n_sites


def allowed_momenta(system: SpinSystem) -> np.ndarray:
    """Lattice momenta, shape ``(Q, D)``, in inverse lattice spacings.

    q = 2πk/N (k = 0 … N−1) on a chain; (2πk_x/L, 2πk_y/L), k_x slowest, on an L×L
    lattice (systems with ``L``). The same grid is used with open boundaries, where
    momentum is not conserved.
    """
    size = getattr(system, "L", None)
    if size is None:
        return (2 * np.pi * np.arange(system.n_sites) / system.n_sites)[:, None]
    k_QD = np.stack(np.meshgrid(np.arange(size), np.arange(size), indexing="ij"), axis=-1).reshape(-1, 2)
    return 2 * np.pi * k_QD / size


def structure_factor_per_config(system: SpinSystem, sigma_SN: np.ndarray,
                                q_QD: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """S(q) = (1/N) |Σ_j e^{i q·r_j} S^z_j|² of each configuration, in ħ².

    ``q_QD`` is ``(Q, D)`` with D the dimension of ``system.coords`` (default:
    ``allowed_momenta(system)``). Returns values ``(S, Q)`` and the momenta ``(Q, D)``.
    """
    coords_ND = np.asarray(system.coords, dtype=float)
    q_QD = allowed_momenta(system) if q_QD is None else np.asarray(q_QD, dtype=float)
    if q_QD.ndim != 2 or q_QD.shape[1] != coords_ND.shape[1]:
        raise PhyslensError(f"momenta must have shape (Q, {coords_ND.shape[1]}); got {q_QD.shape}")
    amplitude_SQ = _sz(sigma_SN) @ np.exp(1j * coords_ND @ q_QD.T)
    return np.abs(amplitude_SQ) ** 2 / system.n_sites, q_QD


def _local_values(log_psi_fn: LogPsiFn, sigma_SN: np.ndarray, conn_KSCN: np.ndarray, mels_KSC: np.ndarray) -> np.ndarray:
    """Σ_c mels · ψ(σ'_c)/ψ(σ) for K operators' padded connections, shape ``(S, K)``.

    log ψ is called once on σ and once on the connections that differ from σ (a diagonal element's ratio is 1,
    so a diagonal operator, such as the TFIM's σᶻσᶻ bonds, costs no evaluation of the network)."""
    live_KSC = mels_KSC != 0
    moved_KSC = live_KSC & np.any(conn_KSCN != sigma_SN[None, :, None, :], axis=-1)
    log_psi_S = np.asarray(log_psi_fn(sigma_SN))
    ratio_KSC = live_KSC.astype(np.result_type(log_psi_S.dtype, float))
    if moved_KSC.any():
        s_M = np.broadcast_to(np.arange(sigma_SN.shape[0])[None, :, None], moved_KSC.shape)[moved_KSC]
        log_conn_M = np.asarray(log_psi_fn(conn_KSCN[moved_KSC]))
        ratio_KSC = ratio_KSC.astype(np.result_type(ratio_KSC.dtype, log_conn_M.dtype))
        with np.errstate(over="ignore", invalid="ignore"):
            ratio_KSC[moved_KSC] = np.exp(log_conn_M - log_psi_S[s_M])
    return np.einsum("ksc,ksc->sk", mels_KSC, ratio_KSC)


def local_energy_per_config(system: SpinSystem, log_psi_fn: LogPsiFn, sigma_SN: np.ndarray) -> np.ndarray:
    """E_loc(σ) = Σ_σ' H_σσ' ψ(σ')/ψ(σ), shape ``(S,)``, in ``system.energy_unit``.

    Uses ``system.hamiltonian.get_conn_padded``; ``log_psi_fn`` maps ``(B, N)`` to
    ``(B,)``. Real for real ψ, complex otherwise; not finite where ψ(σ) = 0.
    """
    sigma_SN = np.asarray(sigma_SN)
    conn_SCN, mels_SC = map(np.asarray, system.hamiltonian.get_conn_padded(sigma_SN))
    return _local_values(log_psi_fn, sigma_SN, conn_SCN[None], mels_SC[None])[:, 0]


def _bond_matrix(system: SpinSystem) -> np.ndarray:
    """The 4×4 matrix of one bond's term of H in NetKet's two-site basis, as ``systems.py`` builds H."""
    if isinstance(system, (HeisenbergRing, HeisenbergSquare)):
        return system.J / 4 * (_SZ_SZ - _EXCHANGE if system.sign_rule else _SZ_SZ + _EXCHANGE)
    if isinstance(system, (TFIMChain, TFIMSquare)):
        return -system.J * _SZ_SZ
    raise PhyslensError(f"bond energies are defined for heisenberg-ring, heisenberg-square, tfim-chain, "
                        f"tfim-square; got {system.kind}")


def bond_energies_per_config(system: SpinSystem, log_psi_fn: LogPsiFn, sigma_SN: np.ndarray) -> np.ndarray:
    """Local value of each bond's term of H, shape ``(S, B)``, bonds as ``system.bonds``, in ``system.energy_unit``.

    Heisenberg: J S_i·S_j (with the Marshall sign rule on the exchange part when the
    system applies it); TFIM: −J σᶻ_i σᶻ_j. The bonds sum to the local energy, less
    the transverse-field term −h Σ_i σˣ_i for the TFIM. One NetKet ``LocalOperator``
    on sites (0, 1) serves every bond: the sites of each configuration are permuted
    so that bond (i, j) sits on (0, 1), and its connections are permuted back (one
    ``get_conn_padded`` call for all bonds).
    """
    sigma_SN = np.asarray(sigma_SN)
    operator = nk.operator.LocalOperator(system.hilbert, _bond_matrix(system), [0, 1])
    bonds_B2 = system.bonds
    site_N = np.arange(sigma_SN.shape[1])
    key_BN = np.where(site_N == bonds_B2[:, :1], -2, np.where(site_N == bonds_B2[:, 1:], -1, site_N))
    perm_BN = np.argsort(key_BN, axis=1)
    moved_BSN = np.moveaxis(sigma_SN[:, perm_BN], 1, 0)
    conn_XCN, mels_XC = map(np.asarray, operator.get_conn_padded(moved_BSN.reshape(-1, sigma_SN.shape[1])))
    conn_BSCN = conn_XCN.reshape(moved_BSN.shape[:2] + conn_XCN.shape[1:])
    conn_BSCN = np.take_along_axis(conn_BSCN, np.argsort(perm_BN, axis=1)[:, None, None, :], axis=3)
    return _local_values(log_psi_fn, sigma_SN, conn_BSCN, mels_XC.reshape(conn_BSCN.shape[:3]))


def czz(system: SpinSystem, configs: Configurations) -> Estimate:
    """⟨C_zz(r)⟩, shape ``(R,)``, in ħ² (see ``czz_per_config``)."""
    return expectation(czz_per_config(system, configs.sigma_SN), configs, "ħ²")


def magnetisation(configs: Configurations) -> Estimate:
    """⟨m⟩ = ⟨(1/N) Σ_i S^z_i⟩, in ħ."""
    return expectation(magnetisation_per_config(configs.sigma_SN), configs, "ħ")


def staggered_magnetisation(system: SpinSystem, configs: Configurations) -> Estimate:
    """⟨m_s⟩, in ħ (zero in a state with the lattice's symmetry; see the squared version)."""
    return expectation(staggered_magnetisation_per_config(system, configs.sigma_SN), configs, "ħ")


def staggered_magnetisation_squared(system: SpinSystem, configs: Configurations) -> Estimate:
    """⟨m_s²⟩, in ħ²."""
    return expectation(staggered_magnetisation_per_config(system, configs.sigma_SN) ** 2, configs, "ħ²")


def structure_factor(system: SpinSystem, configs: Configurations, q_QD: np.ndarray | None = None) -> Estimate:
    """⟨S(q)⟩, shape ``(Q,)``, in ħ², at ``q_QD`` (default ``allowed_momenta(system)``, in that order)."""
    values_SQ, _ = structure_factor_per_config(system, configs.sigma_SN, q_QD)
    return expectation(values_SQ, configs, "ħ²")


def energy(system: SpinSystem, log_psi_fn: LogPsiFn, configs: Configurations) -> Estimate:
    """⟨H⟩ as the mean of Re E_loc, in ``system.energy_unit`` (H is Hermitian, so Im E_loc averages to zero)."""
    return expectation(np.real(local_energy_per_config(system, log_psi_fn, configs.sigma_SN)), configs, system.energy_unit)


def bond_energies(system: SpinSystem, log_psi_fn: LogPsiFn, configs: Configurations) -> Estimate:
    """⟨h_b⟩ for each bond of ``system.bonds``, shape ``(B,)``, in ``system.energy_unit`` (real parts)."""
    return expectation(np.real(bond_energies_per_config(system, log_psi_fn, configs.sigma_SN)), configs, system.energy_unit)
