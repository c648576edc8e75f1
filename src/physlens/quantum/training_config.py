"""What defines a training run: ``TrainConfig`` (written to a run's ``config.toml``).

A config names the system, the ansatz, the optimiser, the sampler and the stopping rule;
``physlens.quantum.protocols`` fills it from a named protocol (the paper's, physlens's own)
so that a study can refuse to mix them. ``physlens.quantum.train`` runs it.

Usage::

    cfg = TrainConfig(system="heisenberg-ring", size=12, model="netket.RBM", alpha=2, mode="sampled")
    system, model = cfg.build_system(), cfg.build_model()
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import netket as nk
import numpy as np
import optax

from physlens.errors import PhyslensError, check_choice
from physlens.quantum.evaluators import basis_size
from physlens.quantum.final_state import count_words
from physlens.quantum.registry import MODELS, REGISTRY, build_model, model_from_spec
from physlens.quantum.systems import SYSTEMS, SpinSystem, make_system
from physlens.runs import check_types, dataclass_from_dict

MODES = ("exact", "sampled")
OPTIMIZERS = ("sgd", "adam")
SAMPLERS = ("auto", "local", "exchange")
"""Metropolis moves: ``local`` single spin flips (NetKet's ``MetropolisLocal``), ``exchange`` swaps along
the bonds (``MetropolisExchange``, stays in an S^z sector), ``auto`` exchange where S^z is conserved."""
SR_SOLVERS = ("cg", "cholesky")
"""How SR solves (S + λ) δ = ∇E: ``cg`` NetKet's default (``VMC`` with the ``SR`` preconditioner: the QGT kept
implicit, conjugate gradients — iterations, and so the time per step, grow as S becomes ill-conditioned near
convergence); ``cholesky`` NetKet's ``VMC_SR``, an exact Cholesky solve at a fixed cost per step: on the dense
P × P QGT in exact mode, and in sampled mode on the S × S neural tangent kernel when there are fewer samples S
than parameters P (the same update, by (XᵀX + λ)⁻¹Xᵀ = Xᵀ(XXᵀ + λ)⁻¹)."""
MAX_EXACT_STATES = 2**24
"""Largest basis physlens diagonalises (Lanczos reference) or trains on by a full sum (exact mode)."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (written to ``config.toml``).

    Attributes:
        system: system kind (``physlens.quantum.systems.SYSTEMS``).
        size: N for chains and rings, L for 2D lattices.
        system_params: further system parameters (``J``, ``h``, ``pbc``, ``sign_rule``).
        model: ``rbm``, ``ffnn`` or ``transformer`` (physlens's ansätze), or a registry name of a
            NetKet model built with ``alpha`` (``netket.RBM``: NetKet's parameterisation and
            initialisation, as its users train it).
        alpha: RBM hidden-unit density (M = alpha · N).
        widths: FFNN hidden-layer widths.
        activation: FFNN activation (``relu`` or ``log_cosh``).
        d_model: transformer residual-stream width.
        n_layers: transformer encoder layers.
        n_heads: transformer attention heads per layer.
        patch_size: transformer patch side (sites on a chain, b×b on a square lattice);
            the patch layout follows the system's geometry (``lattice_shape``).
        pos_encoding: transformer positions: ``learned``, ``relative`` or ``none``.
        reference_energy: ground-state energy to measure ε against, in the system's
            unit, for systems too large for exact diagonalisation (None: Lanczos).
        reference_method: where ``reference_energy`` comes from (closed form, literature).
        seed: seed of the parameter initialisation (the sampler uses seed + 1).
        steps: maximum number of SR steps.
        mode: ``exact`` (full sum) or ``sampled`` (Monte Carlo).
        samples: Monte Carlo samples per step (sampled mode).
        chains: Markov chains (sampled mode).
        sampler: Metropolis moves (``SAMPLERS``; sampled mode).
        optimizer: ``sgd`` or ``adam``, applied to the SR-preconditioned gradient.
        learning_rate: optimiser step size (the first step's, when it decays).
        learning_rate_final: None keeps ``learning_rate`` constant; a value decays it along a cosine to this
            value at ``steps`` (``learning_rate_at``), so sampled SR settles below its noise floor.
        diag_shift: SR diagonal shift.
        sr_solver: how SR solves its linear system (``SR_SOLVERS``: ``cg`` or ``cholesky``).
        tol: stop once ε = |E − E0|/|E0| < tol; 0 runs all steps.
        log_every: steps between C_zz(r) logs and convergence checks.
        checkpoint_every: steps between checkpoints.
        snapshot_every: steps between kept copies of the parameters (``snapshots/<step>.msgpack``,
            for analyses along training); 0 keeps none.
        protocol: the named protocol that set these fields (``physlens.quantum.protocols``), or
            ``custom``.
        init_from: a finished physlens run of the same system and network whose final parameters start
            this one ('': the seed's random initialisation; ``physlens.quantum.warm_start``).
        init_sha256: sha256 of those parameters, pinned when the run is created; a replayed config whose
            source has changed since is refused.
    """

    system: str = "heisenberg-ring"
    size: int = 8
    system_params: dict = field(default_factory=dict)
    model: str = "rbm"
    alpha: float = 2.0
    widths: tuple[int, ...] = (16,)
    activation: str = "relu"
    d_model: int = 16
    n_layers: int = 1
    n_heads: int = 2
    patch_size: int = 2
    pos_encoding: str = "learned"
    reference_energy: float | None = None
    reference_method: str = ""
    seed: int = 0
    steps: int = 1000
    mode: str = "exact"
    samples: int = 1024
    chains: int = 16
    sampler: str = "auto"
    optimizer: str = "sgd"
    learning_rate: float = 0.05
    learning_rate_final: float | None = None
    diag_shift: float = 0.01
    sr_solver: str = "cg"
    tol: float = 1e-3
    log_every: int = 10
    checkpoint_every: int = 50
    snapshot_every: int = 0
    protocol: str = "custom"
    init_from: str = ""
    init_sha256: str = ""

    def __post_init__(self):
        check_choice("mode", self.mode, MODES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("sampler", self.sampler, SAMPLERS)
        check_choice("sr_solver", self.sr_solver, SR_SOLVERS)
        check_choice("model", self.model, list(dict.fromkeys([*MODELS, *(n for n in REGISTRY if _takes_alpha(n))])))
        positive = {"steps": self.steps, "samples": self.samples, "chains": self.chains, "log_every": self.log_every,
                    "checkpoint_every": self.checkpoint_every, "learning_rate": self.learning_rate}
        for name, value in positive.items():
            if not value > 0:
                raise PhyslensError(f"{name} must be > 0; got {value}")
        if self.snapshot_every < 0:
            raise PhyslensError(f"snapshot_every must be >= 0 (0: keep no snapshots); got {self.snapshot_every}")
        if self.learning_rate_final is not None and not 0 < self.learning_rate_final <= self.learning_rate:
            raise PhyslensError(f"learning_rate_final must be in (0, learning_rate = {self.learning_rate}]; got "
                                f"{self.learning_rate_final}")
        if self.tol < 0 or self.diag_shift < 0:
            raise PhyslensError(f"tol and diag_shift must be >= 0; got tol={self.tol}, diag_shift={self.diag_shift}")
        if self.mode == "sampled" and self.samples % self.chains:
            raise PhyslensError(f"samples ({self.samples}) must be a multiple of chains ({self.chains})")
        if self.system in SYSTEMS:
            check_types(SYSTEMS[self.system], self.system_params, what=f"{self.system} parameter")

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """Build from a plain dict (a TOML table); unknown keys are an error."""
        return dataclass_from_dict(cls, values)

    def to_dict(self) -> dict:
        """The fields as a plain dict (what ``config.toml`` holds; ``from_dict`` reads it back)."""
        return dataclasses.asdict(self)

    def learning_rate_at(self, step):
        """The step size at SR step ``step`` (0-based; an int or a traced array): constant, or the cosine
        η(t) = η_f + (η_0 − η_f)(1 + cos(π min(t, T)/T))/2 from η_0 = ``learning_rate`` to η_f at T = ``steps``."""
        if self.learning_rate_final is None:
            return self.learning_rate
        return optax.cosine_decay_schedule(self.learning_rate, self.steps,
                                           alpha=self.learning_rate_final / self.learning_rate)(step)

    def build_system(self) -> SpinSystem:
        """The ``SpinSystem`` of ``system``, ``size`` and ``system_params``."""
        return make_system(self.system, self.size, **self.system_params)

    def build_model(self, system: SpinSystem | None = None):
        """The ansatz; a transformer's patch layout follows ``system`` (built from the config if None)."""
        if self.model not in MODELS:
            return model_from_spec(f"{self.model}:alpha={self.alpha}")
        shape = None
        if self.model == "transformer":
            shape = lattice_shape(system or self.build_system())
        return build_model(self.model, alpha=self.alpha, widths=self.widths, activation=self.activation,
                           lattice_shape=shape, patch_size=self.patch_size, d_model=self.d_model,
                           n_layers=self.n_layers, n_heads=self.n_heads, pos_encoding=self.pos_encoding)

    def build_sampler(self, system: SpinSystem) -> nk.sampler.MetropolisSampler:
        """The Metropolis sampler of ``sampler`` on ``system`` with ``chains`` chains."""
        if self.sampler == "local":
            if system.conserves_sz:
                raise PhyslensError(f"{self.system} here keeps total S^z = 0, which single spin flips leave; use "
                                    "sampler exchange, or the full basis (system parameter fixed_sz=false)")
            return nk.sampler.MetropolisLocal(system.hilbert, n_chains=self.chains)
        if self.sampler == "exchange":
            return nk.sampler.MetropolisExchange(system.hilbert, graph=system.graph, n_chains=self.chains)
        return system.metropolis_sampler(self.chains)

    def reference(self, system: SpinSystem) -> dict:
        """The exact reference of the run: ``reference_energy`` when given, else Lanczos (``system.exact()``);
        for a basis too large to diagonalise and no ``reference_energy``, ``energy`` None (ε unavailable).
        Exact mode on such a basis is a one-line ``PhyslensError`` suggesting sampled mode."""
        n_states = basis_size(system)
        if n_states > MAX_EXACT_STATES:
            what = (f"{self.system} of size {self.size} has {count_words(n_states)} basis states, more than the "
                    f"{MAX_EXACT_STATES:,} physlens can enumerate")
            if self.mode == "exact":
                raise PhyslensError(f"{what}; allowed: --sampled, with --e0 E0 (a known ground-state energy) or "
                                    "without it (ε is then unavailable)")
            if self.reference_energy is None:
                return {"energy": None, "unit": system.energy_unit, "n_states": None,
                        "method": "none: too large for exact diagonalisation and no reference_energy given",
                        "system": system.params()}
        if self.reference_energy is None:
            ref = system.exact()
            return {"energy": ref.energy, "unit": ref.unit, "n_states": ref.n_states, "method": ref.method,
                    "system": system.params()}
        return {"energy": float(self.reference_energy), "unit": system.energy_unit,
                "n_states": n_states if n_states <= MAX_EXACT_STATES else None,
                "method": self.reference_method or "given in the training config", "system": system.params()}


def lattice_shape(system: SpinSystem) -> tuple[int, ...]:
    """Site layout for patching: ``(Lx, Ly)`` when the sites fill a 2D integer grid in row-major order, else ``(N,)``."""
    coords_ND = np.asarray(system.coords, dtype=float)
    if coords_ND.shape[1] == 2:
        pos_ND = np.rint(coords_ND - coords_ND.min(axis=0)).astype(int)
        extent = tuple(int(e) for e in pos_ND.max(axis=0) + 1)
        if np.allclose(coords_ND - coords_ND.min(axis=0), pos_ND) and \
                np.array_equal(pos_ND[:, 0] * extent[1] + pos_ND[:, 1], np.arange(system.n_sites)):
            return extent
    return (system.n_sites,)


def _takes_alpha(name: str) -> bool:
    """Registry models a config can build from ``alpha`` alone (NetKet's RBM family)."""
    return "alpha" in REGISTRY[name].key_fields
