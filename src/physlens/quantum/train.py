"""Variational Monte Carlo training of an NQS into a run directory, resumable.

Stochastic reconfiguration on NetKet: ``FullSumState`` (exact sums over the whole,
possibly S^z-constrained, basis) in ``mode="exact"``, or ``MCState`` with
``MetropolisExchange`` where S^z is conserved and ``MetropolisLocal`` elsewhere in
``mode="sampled"``. Every step logs the energy, its variance and
ε = |E − E0|/|E0| against the exact reference; every ``log_every`` steps also C_zz(r)
(to watch correlations emerge). Training stops when ε < ``tol`` — measured on the
exact energy of the current parameters, by a full sum when the basis has at most
``protocols.check_max_states(config)`` states (also in sampled mode), otherwise on the mean of the
last ``log_every`` sampled energies; a basis too large to diagonalise trains only in
sampled mode, against a given ``reference_energy`` or none (ε is then None, JSON null).
A run ends ``failed`` when its energy diverges or its state collapses
(``physlens.quantum.final_state``). A checkpoint every ``checkpoint_every`` steps makes a
killed run resumable: ``resume(path)`` ends exactly where an uninterrupted run with the
same seed would; a lock (``physlens.folders.FolderLock``) keeps a second writer out.

Usage::

    run = train(TrainConfig(system="heisenberg-ring", size=8, alpha=2), "runs/ring8")
    run = resume("runs/ring8")

``init_from`` in the config starts from another run's final parameters instead of the seed's
(``physlens.quantum.warm_start``).
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import flax.linen as nn
import flax.serialization
import jax
import netket as nk
import numpy as np
import optax
from netket.utils import struct
from tqdm.auto import tqdm

from physlens.errors import PhyslensError
from physlens.folders import FolderLock
from physlens.quantum import observables, warm_start
from physlens.quantum.final_state import FullSumEnergy, final_summary, relative_error
from physlens.quantum.protocols import check_max_states
from physlens.quantum.systems import SpinSystem
from physlens.quantum.training_config import TrainConfig
from physlens.runs import TERMINAL_STATES, Run

def make_vstate(system: SpinSystem, model: nn.Module, config: TrainConfig) -> nk.vqs.VariationalState:
    """A ``FullSumState`` (exact mode) or ``MCState`` (sampled mode) seeded from the config."""
    if config.mode == "exact":
        return nk.vqs.FullSumState(system.hilbert, model, seed=config.seed)
    return nk.vqs.MCState(config.build_sampler(system), model, n_samples=config.samples, seed=config.seed, sampler_seed=config.seed + 1)


def make_driver(system: SpinSystem, vstate: nk.vqs.VariationalState,
                config: TrainConfig) -> nk.driver.AbstractVariationalDriver:
    """NetKet's SR driver for ``config.sr_solver`` (``VMC`` with the ``SR`` preconditioner, or ``VMC_SR``) with
    the configured optimiser and step-size schedule."""
    rate = config.learning_rate if config.learning_rate_final is None else config.learning_rate_at
    opt = {"sgd": optax.sgd, "adam": optax.adam}[config.optimizer](rate)
    if config.sr_solver == "cholesky":
        kernel = config.mode == "sampled" and vstate.n_parameters > config.samples
        return nk.driver.VMC_SR(system.hamiltonian, opt, diag_shift=config.diag_shift, variational_state=vstate,
                                use_ntk=kernel, on_the_fly=kernel)
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
        """NetKet hook before each update: pass step ``step``'s energy statistics to ``_Session.before_update``."""
        self._session.before_update(step, driver, log_data["Energy"])

    def on_step_end(self, step, log_data, driver):
        """NetKet hook after each step: let ``_Session.after_update`` checkpoint when due."""
        self._session.after_update(step, driver)


class _Session:
    """One sitting of a training run: the loop state between checkpoints."""

    def __init__(self, run: Run, config: TrainConfig, system: SpinSystem, model, e0: float | None, rows: list[dict],
                 progress: bool, seconds_before: float = 0.0):
        self.run, self.config, self.system, self.e0 = run, config, system, e0
        self.rows = rows
        self.progress = progress
        self.fullsum = FullSumEnergy(system, model, check_max_states(config))
        self.state = "finished"
        self.message = ""
        self.bar = None
        self.seconds_before = seconds_before
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        """Wall time of the run: earlier sittings (up to their last checkpoint) and this one."""
        return self.seconds_before + time.perf_counter() - self.start

    def before_update(self, step: int, driver, stats) -> None:
        """Log step ``step`` (its energy statistics ``stats``, from the parameters before the update), snapshot,
        and stop the run once converged or diverged."""
        energy = float(stats.mean.real)
        row = {"step": step, "energy": energy, "energy_error": _finite(stats.error_of_mean),
               "variance": _finite(stats.variance), "eps": relative_error(energy, self.e0)}
        if not math.isfinite(energy):
            self.state, self.message = "failed", f"diverged: the energy is {energy} at step {step}"
            raise nk.callbacks.RunFinished()
        eps_check = row["eps"] if self.config.mode == "exact" and row["eps"] is not None else math.inf
        every = self.config.snapshot_every
        if every and step % every == 0:
            variables = flax.serialization.to_state_dict(driver.state.variables)
            self.run.write_blob(f"snapshots/{step:06d}.msgpack", flax.serialization.msgpack_serialize(variables))
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
        """Checkpoint when the ``step + 1`` steps completed are a multiple of ``checkpoint_every``."""
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
    snapshot = run.read_state("checkpoint.msgpack")
    if snapshot is None and config.init_from:
        vstate.variables = warm_start.initial_variables(config, vstate.variables)
    driver = make_driver(system, vstate, config)
    rows = []
    if snapshot is not None:
        driver = flax.serialization.from_state_dict(driver, snapshot)
        rows = [r for r in run.metrics_rows() if r["step"] < driver.step_count]
    seconds_before = run.status.get("seconds", 0.0) if snapshot is not None else 0.0
    run.record_sitting(driver.step_count)
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
    config = warm_start.pinned(config)
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


def snapshots(run: Run) -> list[tuple[int, Any]]:
    """The kept parameter snapshots of a run (``snapshot_every``), as ``(steps done, variables)`` in step order,
    each restored onto the run's model."""
    config = config_of(run)
    system = config.build_system()
    template = config.build_model(system).init(jax.random.PRNGKey(0), np.ones((1, system.n_sites)))
    files = sorted((run.path / "snapshots").glob("*.msgpack"))
    return [(int(f.stem), flax.serialization.from_state_dict(template, run.read_state(f"snapshots/{f.name}")))
            for f in files]


def config_of(run: Run) -> TrainConfig:
    """The ``TrainConfig`` a run was trained with (its ``config.toml``)."""
    return TrainConfig.from_dict(run.settings)


def load(path: Path | str) -> Run:
    """Open a neural-quantum-state run and restore its system, model and variables (``run.system``, ``run.model``, ``run.variables``)."""
    run = Run.open(path, kind="nqs")
    run.system, run.model, run.variables = restore(run)
    return run


def restore(run: Run) -> tuple[SpinSystem, nn.Module, Any]:
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
