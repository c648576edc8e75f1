"""Variational Monte Carlo training of an NQS into a run directory, resumable.

Stochastic reconfiguration on NetKet: ``FullSumState`` (exact sums over the whole,
possibly S^z-constrained, basis) in ``mode="exact"``, or ``MCState`` with
``MetropolisExchange`` where S^z is conserved and ``MetropolisLocal`` elsewhere in
``mode="sampled"``. Every step logs the energy, its variance and
ε = |E − E0|/|E0| against the exact reference; every ``log_every`` steps also C_zz(r)
(to watch correlations emerge). Training stops when ε < ``tol`` — measured on the
exact energy of the current parameters, by a full sum when the basis has at most
``MAX_FULLSUM_STATES`` states (also in sampled mode), otherwise on the mean of the
last ``log_every`` sampled energies; a basis too large to diagonalise trains only in
sampled mode, against a given ``reference_energy`` or none (ε is then None, JSON null).
A run ends ``failed`` when its energy diverges or its state collapses
(``physlens.quantum.final_state``). A checkpoint every ``checkpoint_every`` steps makes a
killed run resumable: ``resume(path)`` ends exactly where an uninterrupted run with the
same seed would; a lock (``physlens.folders.FolderLock``) keeps a second writer out.

Usage::

    run = train(TrainConfig(system="heisenberg-ring", size=8, alpha=2), "runs/ring8")
    run = resume("runs/ring8")
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flax.serialization
import jax
import netket as nk
import numpy as np
import optax
from netket.utils import struct
from tqdm.auto import tqdm

from physlens.errors import PhyslensError, check_choice
from physlens.folders import FolderLock
from physlens.quantum import observables
from physlens.quantum.evaluators import basis_size
from physlens.quantum.final_state import FullSumEnergy, count_words, final_summary, relative_error
from physlens.quantum.registry import build_model
from physlens.quantum.systems import SYSTEMS, SpinSystem, make_system
from physlens.runs import TERMINAL_STATES, Run, check_types, dataclass_from_dict

MODES = ("exact", "sampled")
OPTIMIZERS = ("sgd", "adam")
MAX_EXACT_STATES = 2**24
"""Largest basis physlens diagonalises (Lanczos reference) or trains on by a full sum (exact mode)."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (written to ``config.toml``).

    Attributes:
        system: system kind (``physlens.quantum.systems.SYSTEMS``).
        size: N for chains and rings, L for 2D lattices.
        system_params: further system parameters (``J``, ``h``, ``pbc``, ``sign_rule``).
        model: ``rbm``, ``ffnn`` or ``transformer``.
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
        optimizer: ``sgd`` or ``adam``, applied to the SR-preconditioned gradient.
        learning_rate: optimiser step size.
        diag_shift: SR diagonal shift.
        tol: stop once ε = |E − E0|/|E0| < tol; 0 runs all steps.
        log_every: steps between C_zz(r) logs and convergence checks.
        checkpoint_every: steps between checkpoints.
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
    optimizer: str = "sgd"
    learning_rate: float = 0.05
    diag_shift: float = 0.01
    tol: float = 1e-3
    log_every: int = 10
    checkpoint_every: int = 50

    def __post_init__(self):
        check_choice("mode", self.mode, MODES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        positive = {"steps": self.steps, "samples": self.samples, "chains": self.chains, "log_every": self.log_every,
                    "checkpoint_every": self.checkpoint_every, "learning_rate": self.learning_rate}
        for name, value in positive.items():
            if not value > 0:
                raise PhyslensError(f"{name} must be > 0; got {value}")
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
        return dataclasses.asdict(self)

    def build_system(self) -> SpinSystem:
        return make_system(self.system, self.size, **self.system_params)

    def build_model(self, system: SpinSystem | None = None):
        """The ansatz; a transformer's patch layout follows ``system`` (built from the config if None)."""
        shape = None
        if self.model == "transformer":
            shape = lattice_shape(system or self.build_system())
        return build_model(self.model, alpha=self.alpha, widths=self.widths, activation=self.activation,
                           lattice_shape=shape, patch_size=self.patch_size, d_model=self.d_model,
                           n_layers=self.n_layers, n_heads=self.n_heads, pos_encoding=self.pos_encoding)

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


def make_vstate(system: SpinSystem, model, config: TrainConfig) -> nk.vqs.VariationalState:
    """A ``FullSumState`` (exact mode) or ``MCState`` (sampled mode) seeded from the config."""
    if config.mode == "exact":
        return nk.vqs.FullSumState(system.hilbert, model, seed=config.seed)
    return nk.vqs.MCState(system.metropolis_sampler(config.chains), model, n_samples=config.samples, seed=config.seed, sampler_seed=config.seed + 1)


def make_driver(system: SpinSystem, vstate, config: TrainConfig) -> nk.driver.VMC:
    """NetKet's VMC driver with SR preconditioning and the configured optimiser."""
    opt = {"sgd": optax.sgd, "adam": optax.adam}[config.optimizer](config.learning_rate)
    return nk.driver.VMC(system.hamiltonian, opt, variational_state=vstate,
                         preconditioner=nk.optimizer.SR(diag_shift=config.diag_shift))


def _finite(value) -> float | None:
    """A float, or None (JSON null) when it is NaN or infinite."""
    value = float(np.real(value))
    return value if math.isfinite(value) else None


class _Recorder(nk.callbacks.AbstractCallback, mutable=True):
    """Bridges NetKet's callback hooks to a ``_Session`` (logging, checkpoints, stopping)."""

    _session: Any = struct.field(pytree_node=False, serialize=False)

    def __init__(self, session: "_Session"):
        self._session = session

    def before_parameter_update(self, step, log_data, driver):
        self._session.before_update(step, driver)

    def on_step_end(self, step, log_data, driver):
        self._session.after_update(step, driver)


class _Session:
    """One sitting of a training run: the loop state between checkpoints."""

    def __init__(self, run: Run, config: TrainConfig, system: SpinSystem, model, e0: float | None, rows: list[dict],
                 progress: bool, seconds_before: float = 0.0):
        self.run, self.config, self.system, self.e0 = run, config, system, e0
        self.rows = rows
        self.progress = progress
        self.fullsum = FullSumEnergy(system, model)
        self.state = "finished"
        self.message = ""
        self.bar = None
        self.seconds_before = seconds_before
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        """Wall time of the run: earlier sittings (up to their last checkpoint) and this one."""
        return self.seconds_before + time.perf_counter() - self.start

    def before_update(self, step: int, driver) -> None:
        stats = driver.energy
        energy = float(stats.mean.real)
        row = {"step": step, "energy": energy, "energy_error": _finite(stats.error_of_mean),
               "variance": _finite(stats.variance), "eps": relative_error(energy, self.e0)}
        if not math.isfinite(energy):
            self.state, self.message = "failed", f"diverged: the energy is {energy} at step {step}"
            raise nk.callbacks.RunFinished()
        eps_check = row["eps"] if self.config.mode == "exact" and row["eps"] is not None else math.inf
        if step % self.config.log_every == 0:
            self._log_observables(row, driver)
            if self.config.mode == "sampled":
                eps_check = self._sampled_eps(row)
        self.rows.append(row)
        if self.bar is not None:
            eps = "n/a" if row["eps"] is None else f"{row['eps']:.2e}"
            self.bar.set_postfix_str(f"E={energy:.6f} ε={eps} var={row['variance'] or math.nan:.2e}", refresh=False)
            self.bar.update(1)
        if self.config.tol > 0 and eps_check < self.config.tol:
            self.state = "converged"
            raise nk.callbacks.RunFinished()

    def _log_observables(self, row: dict, driver) -> None:
        """Add C_zz(r) (and, in sampled mode, the full-sum energy where it fits) to ``row``."""
        vs = driver.state
        czz = observables.czz(self.system, observables.Configurations.from_vstate(vs))
        row["czz"] = [float(c) for c in czz.value]
        row["czz_exact"] = bool(czz.exact)
        if self.config.mode == "sampled":
            exact_energy = self.fullsum(vs.variables)
            if exact_energy is not None:
                row["energy_fullsum"] = exact_energy

    def _sampled_eps(self, row: dict) -> float:
        """ε of the current parameters: full sum where it fits, else the mean of recent sampled energies."""
        if self.e0 is None:
            return math.inf
        if "energy_fullsum" in row:
            return relative_error(row["energy_fullsum"], self.e0)
        recent = [r["energy"] for r in self.rows[-self.config.log_every + 1:]] + [row["energy"]]
        return relative_error(float(np.mean(recent)), self.e0)

    def after_update(self, step: int, driver) -> None:
        done = step + 1
        if done % self.config.checkpoint_every == 0:
            self.checkpoint(driver, done)

    def checkpoint(self, driver, done: int) -> None:
        """Save the driver after ``done`` completed steps, with the metrics up to it."""
        snapshot = flax.serialization.to_state_dict(driver)
        snapshot["_step_count"] = done
        self.run.write_metrics(self.rows)
        self.run.write_blob("checkpoint.msgpack", flax.serialization.msgpack_serialize(snapshot))
        self.run.write_status("running", step=done, seconds=self.seconds)


def _open_session(run: Run, config: TrainConfig, progress: bool, system: SpinSystem | None = None):
    system = system or config.build_system()
    model = config.build_model(system)
    vstate = make_vstate(system, model, config)
    driver = make_driver(system, vstate, config)
    snapshot = run.read_state("checkpoint.msgpack")
    rows = []
    if snapshot is not None:
        driver = flax.serialization.from_state_dict(driver, snapshot)
        rows = [r for r in run.metrics_rows() if r["step"] < driver.step_count]
    seconds_before = run.status.get("seconds", 0.0) if snapshot is not None else 0.0
    session = _Session(run, config, system, model, run.reference["energy"], rows, progress, seconds_before)
    return session, driver


def _run_session(session: _Session, driver) -> Run:
    config, run = session.config, session.run
    start = time.perf_counter()
    remaining = config.steps - driver.step_count
    if session.progress:
        session.bar = tqdm(total=config.steps, initial=driver.step_count, desc=f"{config.system} N={session.system.n_sites}",
                           file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
    try:
        if remaining > 0:
            driver.run(remaining, callback=_Recorder(session), show_progress=False)
    except BaseException as exc:
        run.mark_interrupted(exc)
        raise
    finally:
        if session.bar is not None:
            session.bar.close()
    return _finish(session, driver, time.perf_counter() - start)


def _finish(session: _Session, driver, seconds: float) -> Run:
    run, system, vs = session.run, session.system, driver.state
    variables = vs.variables
    run.write_blob("params.msgpack", flax.serialization.msgpack_serialize(flax.serialization.to_state_dict(variables)))
    session.checkpoint(driver, driver.step_count)
    summary, collapse = final_summary(system, session.config.mode, vs, session.fullsum,
                                      session.rows[-session.config.log_every:], session.e0)
    eps = summary["eps"]
    if session.state == "finished" and not math.isfinite(summary["energy"]):
        session.state, session.message = "failed", f"diverged: the final energy is {summary['energy']}"
    if session.state == "finished" and eps is not None and session.config.tol > 0 and eps < session.config.tol:
        session.state = "converged"
    if session.state != "failed" and collapse:
        session.state, session.message = "failed", collapse
    summary["energy"], summary["variance"] = _finite(summary["energy"]), _finite(summary["variance"])
    run.write_status(session.state, step=driver.step_count, message=session.message, **summary,
                     energy_unit=system.energy_unit, e0=session.e0, seconds_last_sitting=seconds,
                     seconds=session.seconds)
    run.system, run.model, run.variables = system, vs.model, variables
    return run


def train(config: TrainConfig, out: Path | str, *, progress: bool = True) -> Run:
    """Train a new run into the empty folder ``out``; returns the loaded run."""
    system = config.build_system()
    config.build_model(system)
    reference = config.reference(system)
    run = Run.create(out, {"kind": "nqs", **config.to_dict()}, reference)
    with FolderLock(run.path):
        session, driver = _open_session(run, config, progress, system)
        return _run_session(session, driver)


def resume(path: Path | str, *, progress: bool = True) -> Run:
    """Continue an interrupted run from its last checkpoint to where an uninterrupted run ends."""
    run = Run.open(path)
    with FolderLock(run.path):
        if run.status["state"] in TERMINAL_STATES:
            return load(path)
        config = config_of(run)
        session, driver = _open_session(run, config, progress)
        return _run_session(session, driver)


def config_of(run: Run) -> TrainConfig:
    """The ``TrainConfig`` a run was trained with (its ``config.toml``)."""
    return TrainConfig.from_dict(run.settings)


def load(path: Path | str) -> Run:
    """Open a neural-quantum-state run and restore its system, model and variables (``run.system``, ``run.model``, ``run.variables``)."""
    run = Run.open(path, kind="nqs")
    run.system, run.model, run.variables = restore(run)
    return run


def restore(run: Run):
    """System, model and variables of a run (final parameters, else the last checkpoint)."""
    config = config_of(run)
    system = config.build_system()
    model = config.build_model(system)
    template = model.init(jax.random.PRNGKey(0), np.ones((1, system.n_sites)))
    final = run.read_state("params.msgpack")
    if final is None:
        checkpoint = run.read_state("checkpoint.msgpack")
        if checkpoint is None:
            raise PhyslensError(f"{run.path} holds no parameters yet (no params.msgpack or checkpoint.msgpack)")
        final = checkpoint["state"]["variables"]
    try:
        return system, model, flax.serialization.from_state_dict(template, final)
    except (KeyError, ValueError, TypeError) as exc:
        raise PhyslensError(f"{run.path} parameters do not fit its model ({config.model}): {exc}") from None
