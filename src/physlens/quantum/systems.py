"""Spin systems: NetKet Hilbert space + Hamiltonian + geometry + exact reference.

Each system is a frozen dataclass of its physical parameters. It carries

- ``hilbert`` and ``hamiltonian`` (NetKet objects; the Hamiltonian written exactly
  as the class docstring states, energies in ``energy_unit``),
- ``coords`` (site positions, ``(N, d)``) and ``bonds`` (interacting pairs, ``(B, 2)``)
  for drawing and for bond observables,
- ``exact()``: the ground-state energy by Lanczos (and the normalised state in the
  order of ``hilbert.all_states()`` when the space has at most ``MAX_STATE_SIZE``
  states), cached on disk keyed by the parameters.

Usage::

    ring = HeisenbergRing(8)
    ref = ring.exact()          # ref.energy == -3.6510934089 (units of J)
    system = make_system("tfim-chain", 12, h=0.5)
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import netket as nk
import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from physlens.errors import PhyslensError, check_choice
from physlens.runs import atomic_write_bytes, check_types

MAX_STATE_SIZE = 2**20
"""Largest basis whose exact ground-state vector is kept (8 MiB in float64)."""


def cache_dir() -> Path:
    """Where exact references are cached: ``$PHYSLENS_CACHE`` or ``~/.cache/physlens``."""
    return Path(os.environ.get("PHYSLENS_CACHE", Path.home() / ".cache" / "physlens"))


@dataclass(frozen=True)
class ExactReference:
    """Exact ground state of a system.

    Attributes:
        energy: ground-state energy, in ``unit``.
        unit: energy unit of the system's Hamiltonian.
        n_states: dimension of the (constrained) Hilbert space.
        method: how it was computed.
        state: normalised ground state in ``hilbert.all_states()`` order, sign chosen
            so that its largest-magnitude amplitude is positive; None for large spaces.
    """

    energy: float
    unit: str
    n_states: int
    method: str
    state: np.ndarray | None = None


@dataclass(frozen=True)
class SpinSystem:
    """Base class: subclasses set ``kind``, ``energy_unit`` and build the operator."""

    kind: ClassVar[str]
    energy_unit: ClassVar[str] = "J"
    conserves_sz: ClassVar[bool] = False

    def params(self) -> dict:
        """The system's parameters as a plain dict (with ``system`` = its kind)."""
        return {"system": self.kind, **dataclasses.asdict(self)}

    @property
    def n_sites(self) -> int:
        """Number of spins N."""
        return self.hilbert.size

    @cached_property
    def graph(self) -> nk.graph.AbstractGraph:
        """The system's NetKet graph over its N sites (built by the subclass's ``_graph``; cached)."""
        return self._graph()

    @cached_property
    def hilbert(self) -> nk.hilbert.Spin:
        """Spin-1/2 Hilbert space of the N sites, restricted to total S^z = 0 when ``conserves_sz`` (cached)."""
        return nk.hilbert.Spin(s=0.5, N=self.graph.n_nodes, total_sz=0 if self.conserves_sz else None)

    def metropolis_sampler(self, n_chains: int) -> nk.sampler.MetropolisSampler:
        """NetKet Metropolis sampler of this Hilbert space: spin exchanges along the bonds where S^z is
        conserved (the moves stay in the sector), single spin flips elsewhere."""
        if self.conserves_sz:
            return nk.sampler.MetropolisExchange(self.hilbert, graph=self.graph, n_chains=n_chains)
        return nk.sampler.MetropolisLocal(self.hilbert, n_chains=n_chains)

    @cached_property
    def hamiltonian(self) -> nk.operator.DiscreteOperator:
        """The Hamiltonian as a NetKet operator on ``hilbert``, in ``energy_unit`` (cached)."""
        return self._hamiltonian()

    @property
    def coords(self) -> np.ndarray:
        """Site positions, shape ``(N, d)``."""
        return np.asarray(self.graph.positions, dtype=float)

    @property
    def bonds(self) -> np.ndarray:
        """Interacting pairs (i, j), shape ``(B, 2)``."""
        return np.asarray(self.graph.edges(), dtype=int).reshape(-1, 2)

    def cache_key(self) -> str:
        """Key of the on-disk caches: ``<kind>-`` and 16 hex digits of the SHA-256 of ``params()``."""
        blob = json.dumps(self.params(), sort_keys=True).encode()
        return f"{self.kind}-{hashlib.sha256(blob).hexdigest()[:16]}"

    def sparse_hamiltonian(self) -> scipy.sparse.csr_matrix:
        """The Hamiltonian as a CSR matrix over ``hilbert.all_states()``, cached on disk and in memory."""
        if "_sparse" not in self.__dict__:
            path = cache_dir() / "hamiltonians" / f"{self.cache_key()}.npz"
            if path.exists():
                matrix = scipy.sparse.load_npz(path).tocsr()
            else:
                matrix = self.hamiltonian.to_sparse().tocsr()
                buf = io.BytesIO()
                scipy.sparse.save_npz(buf, matrix)
                atomic_write_bytes(path, buf.getvalue())
            self.__dict__["_sparse"] = matrix
        return self.__dict__["_sparse"]

    def exact(self) -> ExactReference:
        """Ground-state energy (and state) by Lanczos, cached on disk."""
        path = cache_dir() / "exact" / f"{self.cache_key()}.npz"
        if path.exists():
            with np.load(path) as f:
                state = f["state"] if f["state"].size else None
                return ExactReference(float(f["energy"]), self.energy_unit, int(f["n_states"]), str(f["method"]), state)
        energy, state, method = lowest_eigenpair(self.sparse_hamiltonian())
        keep = state if state.size <= MAX_STATE_SIZE else np.zeros(0)
        buf = io.BytesIO()
        np.savez(buf, energy=energy, state=keep, n_states=state.size, method=method)
        atomic_write_bytes(path, buf.getvalue())
        return ExactReference(energy, self.energy_unit, state.size, method, keep if keep.size else None)

    def energy_of(self, log_psi_S: np.ndarray) -> float:
        """⟨ψ|H|ψ⟩/⟨ψ|ψ⟩ of the wavefunction with log-amplitudes ``log_psi_S`` over ``hilbert.all_states()``."""
        log_psi_S = np.asarray(log_psi_S)
        psi_S = np.exp(log_psi_S - np.max(log_psi_S.real))
        return float(np.real(np.vdot(psi_S, self.sparse_hamiltonian() @ psi_S)) / np.vdot(psi_S, psi_S).real)


def lowest_eigenpair(h_sparse: scipy.sparse.spmatrix) -> tuple[float, np.ndarray, str]:
    """Lowest eigenvalue and normalised eigenvector of a real symmetric sparse matrix."""
    dim = h_sparse.shape[0]
    if dim <= 64:
        vals, vecs = np.linalg.eigh(h_sparse.toarray())
        energy, state, method = vals[0], vecs[:, 0], "dense eigh"
    else:
        v0 = np.ones(dim) / np.sqrt(dim)
        vals, vecs = scipy.sparse.linalg.eigsh(h_sparse, k=1, which="SA", v0=v0, tol=0)
        energy, state, method = vals[0], vecs[:, 0], "Lanczos (scipy eigsh, ARPACK)"
    state = np.real(state)
    state = state / np.linalg.norm(state)
    if state[np.argmax(np.abs(state))] < 0:
        state = -state
    return float(np.real(energy)), state, method


def _check_periodic(kind: str, size: int, pbc: bool) -> None:
    """Periodic boundaries on fewer than 3 sites per direction would double-count bonds."""
    if pbc and size < 3:
        raise PhyslensError(f"{kind} with periodic boundaries needs size >= 3 (got {size}); use pbc=false")


@dataclass(frozen=True)
class HeisenbergRing(SpinSystem):
    """Periodic Heisenberg ring H = J Σ_i S_i·S_{i+1}, spin-1/2 operators, total S^z = 0 by default.

    Attributes:
        n: number of sites N (even, ≥ 4).
        J: coupling, in the energy unit J (antiferromagnetic for J > 0).
        sign_rule: apply the Marshall sign rule (a basis rotation that makes the
            ground state positive; energies unchanged).
        fixed_sz: restrict the basis to total S^z = 0 (C(N, N/2) states, sampled by spin
            exchanges); False keeps all 2^N states, as single-spin-flip sampling
            (NetKet's ``MetropolisLocal``) needs. The ground state (a singlet) is the same.
    """

    n: int
    J: float = 1.0
    sign_rule: bool = True
    fixed_sz: bool = True
    kind: ClassVar[str] = "heisenberg-ring"

    @property
    def conserves_sz(self) -> bool:
        """Whether the basis is the total S^z = 0 sector (``fixed_sz``)."""
        return self.fixed_sz

    def __post_init__(self):
        if self.n < 4 or self.n % 2:
            raise PhyslensError(f"heisenberg-ring needs an even number of sites N >= 4 (S^z = 0 sector, Marshall sign rule); got N = {self.n}")

    def _graph(self):
        return nk.graph.Chain(self.n, pbc=True)

    def _hamiltonian(self):
        # NetKet's Heisenberg uses Pauli matrices: σ·σ = 4 S·S.
        return nk.operator.Heisenberg(self.hilbert, self.graph, J=self.J / 4, sign_rule=self.sign_rule)


@dataclass(frozen=True)
class HeisenbergSquare(SpinSystem):
    """Heisenberg model on an L×L square lattice, H = J Σ_<ij> S_i·S_j, total S^z = 0.

    Attributes:
        L: linear size (N = L², even L ≥ 2 for the sign rule on a torus).
        J: coupling, in the energy unit J.
        pbc: periodic boundaries.
        sign_rule: apply the Marshall sign rule.
    """

    L: int
    J: float = 1.0
    pbc: bool = True
    sign_rule: bool = True
    kind: ClassVar[str] = "heisenberg-square"
    conserves_sz: ClassVar[bool] = True

    def __post_init__(self):
        if self.L < 2 or self.L % 2:
            raise PhyslensError(f"heisenberg-square needs an even L >= 2 (S^z = 0 sector needs an even N = L^2); got L = {self.L}")
        _check_periodic(self.kind, self.L, self.pbc)

    def _graph(self):
        return nk.graph.Square(self.L, pbc=self.pbc)

    def _hamiltonian(self):
        return nk.operator.Heisenberg(self.hilbert, self.graph, J=self.J / 4, sign_rule=self.sign_rule)


@dataclass(frozen=True)
class TFIMChain(SpinSystem):
    """Transverse-field Ising chain H = −J Σ σᶻ_i σᶻ_{i+1} − h Σ σˣ_i (Pauli matrices).

    Attributes:
        n: number of sites N (≥ 2).
        h: transverse field, in units of J.
        J: Ising coupling (ferromagnetic for J > 0).
        pbc: periodic boundaries.
    """

    n: int
    h: float = 1.0
    J: float = 1.0
    pbc: bool = True
    kind: ClassVar[str] = "tfim-chain"

    def __post_init__(self):
        if self.n < 2:
            raise PhyslensError(f"tfim-chain needs N >= 2 sites; got N = {self.n}")
        _check_periodic(self.kind, self.n, self.pbc)

    def _graph(self):
        return nk.graph.Chain(self.n, pbc=self.pbc)

    def _hamiltonian(self):
        return nk.operator.Ising(self.hilbert, self.graph, h=self.h, J=-self.J)


@dataclass(frozen=True)
class TFIMSquare(SpinSystem):
    """Transverse-field Ising model on an L×L square lattice, H = −J Σ_<ij> σᶻσᶻ − h Σ σˣ.

    Attributes:
        L: linear size (N = L², L ≥ 2).
        h: transverse field, in units of J (critical near h/J ≈ 3.04438).
        J: Ising coupling.
        pbc: periodic boundaries (False: open).
    """

    L: int
    h: float = 3.04438
    J: float = 1.0
    pbc: bool = False
    kind: ClassVar[str] = "tfim-square"

    def __post_init__(self):
        if self.L < 2:
            raise PhyslensError(f"tfim-square needs L >= 2; got L = {self.L}")
        _check_periodic(self.kind, self.L, self.pbc)

    def _graph(self):
        return nk.graph.Square(self.L, pbc=self.pbc)

    def _hamiltonian(self):
        return nk.operator.Ising(self.hilbert, self.graph, h=self.h, J=-self.J)


@dataclass(frozen=True)
class ToricCode(SpinSystem):
    """Kitaev's toric code on an L×L torus, H = −Σ_v A_v − Σ_p B_p, qubits on the 2L² edges.

    A_v = Π σˣ over the four edges at vertex v (star), B_p = Π σᶻ around plaquette p.
    Edge 2(yL + x) runs from vertex (x, y) to (x+1, y), edge 2(yL + x) + 1 to (x, y+1).
    The ground energy is −2L² (four-fold degenerate); the energy unit is the
    common coefficient of the stabilisers.

    Attributes:
        L: linear size of the torus (≥ 2; N = 2L² qubits).
    """

    L: int
    kind: ClassVar[str] = "toric-code"
    energy_unit: ClassVar[str] = "stabiliser coefficient"

    def __post_init__(self):
        if self.L < 2:
            raise PhyslensError(f"toric-code needs L >= 2; got L = {self.L}")

    def _edge(self, x: int, y: int, vertical: int) -> int:
        L = self.L
        return 2 * ((y % L) * L + (x % L)) + vertical

    @property
    def stars(self) -> np.ndarray:
        """Edges of each star A_v, shape ``(L², 4)``, vertex v = yL + x."""
        L = self.L
        return np.array([[self._edge(x, y, 0), self._edge(x - 1, y, 0), self._edge(x, y, 1), self._edge(x, y - 1, 1)]
                         for y in range(L) for x in range(L)])

    @property
    def plaquettes(self) -> np.ndarray:
        """Edges of each plaquette B_p, shape ``(L², 4)``, lower-left corner p = yL + x."""
        L = self.L
        return np.array([[self._edge(x, y, 0), self._edge(x, y + 1, 0), self._edge(x, y, 1), self._edge(x + 1, y, 1)]
                         for y in range(L) for x in range(L)])

    @cached_property
    def hilbert(self) -> nk.hilbert.Spin:
        """Spin-1/2 Hilbert space of the N = 2L² edge qubits, unconstrained (cached)."""
        return nk.hilbert.Spin(s=0.5, N=2 * self.L**2)

    def _graph(self):
        return nk.graph.Graph(edges=[tuple(map(int, e)) for p in self.plaquettes for e in zip(p, np.roll(p, 1))])

    @property
    def coords(self) -> np.ndarray:
        """Edge midpoints on the torus, shape ``(2L², 2)``."""
        return np.array([[x + 0.5 * (1 - v), y + 0.5 * v] for y in range(self.L) for x in range(self.L) for v in (0, 1)])

    @property
    def bonds(self) -> np.ndarray:
        """Pairs of edges that share a star or a plaquette, shape ``(B, 2)``."""
        pairs = {tuple(sorted((int(a), int(b)))) for group in np.vstack([self.stars, self.plaquettes])
                 for a in group for b in group if a != b}
        return np.array(sorted(pairs), dtype=int)

    def _hamiltonian(self):
        n = self.hilbert.size

        def pauli_string(letter: str, sites) -> str:
            chars = ["I"] * n
            for s in sites:
                chars[s] = letter
            return "".join(chars)

        strings = [pauli_string("X", s) for s in self.stars] + [pauli_string("Z", p) for p in self.plaquettes]
        return nk.operator.PauliStrings(self.hilbert, strings, [-1.0] * len(strings))


SYSTEMS: dict[str, type[SpinSystem]] = {
    cls.kind: cls for cls in (HeisenbergRing, HeisenbergSquare, TFIMChain, TFIMSquare, ToricCode)
}


def make_system(kind: str, size: int, **params: Any) -> SpinSystem:
    """Build a system by name: ``size`` is N for chains and rings, L for 2D lattices.

    Raises ``PhyslensError`` for an unknown kind, an unknown parameter or an
    invalid value.
    """
    check_choice("system", kind, list(SYSTEMS))
    cls = SYSTEMS[kind]
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(params) - set(fields[1:]))
    if unknown:
        raise PhyslensError(f"unknown parameter(s) {', '.join(unknown)} for {kind}; allowed: {', '.join(fields[1:])}")
    return cls(int(size), **check_types(cls, params, what=f"{kind} parameter"))


def system_from_params(params: dict) -> SpinSystem:
    """Inverse of ``SpinSystem.params()``."""
    params = dict(params)
    kind = params.pop("system", None)
    check_choice("system", str(kind), list(SYSTEMS))
    cls = SYSTEMS[kind]
    size_field = dataclasses.fields(cls)[0].name
    return make_system(kind, params.pop(size_field), **params)
