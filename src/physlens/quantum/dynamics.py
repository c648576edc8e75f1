"""Real-time evolution of a neural quantum state after a quench by NetKet's TDVP, checked against exact dynamics.

The network starts from a trained ground state of the pre-quench system (``complex_start``: an RBM
run's parameters, exactly, in NetKet's ``RBM`` with complex parameters — real parameters cannot
carry the phases of a real-time state) or from a near-Néel RBM (``neel_start``), and is evolved by
``netket.experimental.TDVP`` (QGT solved by ``pinv_smooth``, fourth-order Runge–Kutta at a fixed step)
with a ``FullSumState`` (mode ``exact``) or an ``MCState`` (mode ``sampled``). At every saved
time t_k = k·``save_dt`` the evolution directory gets the parameters (``params/<k>.msgpack``), a row of
observables of the network (by a full sum over the basis; ``physlens.quantum.quench``) with the
fidelity |⟨ψ_NQS(t)|ψ_exact(t)⟩|² to the exactly evolved start, and a checkpoint. Every save
interval is integrated by a fresh driver from the saved state (its clock from 0: H does not depend on
time, and whole steps are counted without rounding), so an interrupted evolution resumed
(``resume``) gives the same trajectory as an uninterrupted one. Files are written atomically.

    evolution directory: config.toml (kind = "evolution"), reference.json, initial.msgpack,
    params/00000.msgpack …, metrics.jsonl (one row per saved time), exact.csv, checkpoint.msgpack, status.json

Usage::

    quench = Quench.tfim(12, h_before=0.5, h_after=1.0)
    spec, variables = complex_start(run.model, run.variables)      # run: a trained RBM at h = 0.5
    config = EvolveConfig(quench=quench.params(), model=spec, t_end=2.0, save_dt=0.1, dt=0.01)
    result = evolve(config, "runs/quench12", variables)
    result.nqs.frame(), result.exact.frame(), result.fidelity_T
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import netket as nk
import netket.experimental as nkx
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from physlens.errors import PhyslensError, check_choice
from physlens.folders import FolderLock
from physlens.quantum.evaluators import fits_exactly
from physlens.quantum.models import RBM
from physlens.quantum.quench import BasisObservables, Quench, Trajectory, exact_states, fidelity, time_grid
from physlens.quantum.registry import model_from_spec
from physlens.quantum.systems import SpinSystem
from physlens.runs import TERMINAL_STATES, Run, atomic_write_text, dataclass_from_dict

KIND = "evolution"
MODES = ("exact", "sampled")


@dataclass(frozen=True)
class EvolveConfig:
    """Everything that defines an evolution (written to ``config.toml``).

    Attributes:
        quench: ``Quench.params()`` of the quench.
        model: registry spec of the evolved network, with complex parameters
            (``netket.RBM:alpha=2,param_dtype=complex``).
        t_end: last time, in 1/[energy unit] (ħ = 1); a whole number of ``save_dt``.
        save_dt: interval between saved times (parameters, observables, fidelity, checkpoint).
        dt: step of the fourth-order Runge–Kutta integrator (``netket.experimental.dynamics.RK4``);
            ``save_dt`` must be a whole number of steps.
        mode: ``exact`` (``FullSumState``) or ``sampled`` (``MCState``).
        samples: Monte Carlo samples per TDVP evaluation (sampled mode).
        chains: Markov chains (sampled mode).
        seed: seed of the sampler (sampled mode).
        rtol: eigenvalues of the QGT below ``rtol`` × the largest are dropped (``pinv_smooth``).
        rtol_smooth: scale of the smooth cut-off of small QGT eigenvalues (``pinv_smooth``). At 1e-10 an
            RBM of the N = 12 TFIM chain started from a real ground-state fit lost 8.5e-4 J of energy in its
            first 0.05 time units (an ill-conditioned solve); at 1e-6 it kept its energy to 1e-6 J.
        source: where the initial parameters came from (a run folder, ``neel``).
    """

    quench: dict
    model: str = "netket.RBM:alpha=2,param_dtype=complex"
    t_end: float = 1.0
    save_dt: float = 0.1
    dt: float = 0.01
    mode: str = "exact"
    samples: int = 1024
    chains: int = 16
    seed: int = 0
    rtol: float = 1e-12
    rtol_smooth: float = 1e-6
    source: str = ""

    def __post_init__(self):
        check_choice("mode", self.mode, MODES)
        for name in ("dt", "samples", "chains", "rtol", "rtol_smooth"):
            if not getattr(self, name) > 0:
                raise PhyslensError(f"{name} must be > 0; got {getattr(self, name)}")
        self.steps_per_save()
        if self.mode == "sampled" and self.samples % self.chains:
            raise PhyslensError(f"samples ({self.samples}) must be a multiple of chains ({self.chains})")
        self.times()
        system = self.build_quench().after
        if not fits_exactly(system):
            raise PhyslensError(f"{system.kind} N={system.n_sites} is too large for the exact reference and the "
                                "full-sum observables of an evolution; allowed: a basis of at most 2^18 states")

    @classmethod
    def from_dict(cls, values: dict) -> EvolveConfig:
        """Build from a plain dict (a TOML table); unknown keys are an error."""
        return dataclass_from_dict(cls, values)

    def to_dict(self) -> dict:
        """The fields as a plain dict (what ``config.toml`` holds; ``from_dict`` reads it back)."""
        return dataclasses.asdict(self)

    def build_quench(self) -> Quench:
        """The ``Quench`` described by ``quench`` (``Quench.from_params``)."""
        return Quench.from_params(self.quench)

    def times(self) -> np.ndarray:
        """The saved times t_k = k · save_dt, shape ``(K,)``."""
        return time_grid(self.t_end, self.save_dt)

    def steps_per_save(self) -> int:
        """Integrator steps per save interval (``save_dt`` / ``dt``, a whole number ≥ 1)."""
        n_steps = int(round(self.save_dt / self.dt))
        if n_steps < 1 or abs(n_steps * self.dt - self.save_dt) > 1e-9 * self.save_dt:
            raise PhyslensError(f"save_dt ({self.save_dt}) must be a whole number of integrator steps dt ({self.dt})")
        return n_steps


def complex_start(model: nn.Module, variables: Any) -> tuple[str, dict]:
    """An RBM's state as NetKet's ``RBM`` with complex parameters, the same log ψ (spec, variables).

    Takes physlens's ``rbm`` (without a hidden mask) or ``netket.RBM``; the parameters are copied
    unchanged (cast to complex128), so ψ at t = 0 is the trained state exactly.
    """
    if isinstance(model, RBM) and model.hidden_mask is None:
        params = variables["params"]
        dense = dict(params["hidden"])
        kernel_NM = np.asarray(dense["kernel"])
        flags = {"use_visible_bias": model.use_visible_bias, "use_hidden_bias": model.use_hidden_bias}
        mapped = {"Dense": dense} | ({"visible_bias": params["visible_bias"]} if model.use_visible_bias else {})
    elif isinstance(model, nk.models.RBM):
        params = variables["params"]
        kernel_NM = np.asarray(params["Dense"]["kernel"])
        flags = {"use_visible_bias": model.use_visible_bias, "use_hidden_bias": model.use_hidden_bias}
        mapped = params
    else:
        raise PhyslensError(f"real-time evolution starts from an RBM's state; got a {type(model).__name__}; "
                            "allowed: physlens rbm (no hidden mask) or netket.RBM")
    n_sites, n_hidden = kernel_NM.shape
    alpha = n_hidden / n_sites
    if int(alpha * n_sites) != n_hidden:
        raise PhyslensError(f"an RBM with {n_hidden} hidden units on {n_sites} sites has no NetKet alpha")
    spec = f"netket.RBM:alpha={alpha!r},param_dtype=complex" + "".join(
        f",{k}={str(v).lower()}" for k, v in flags.items() if not v)
    cast = jax.tree.map(lambda x: jnp.asarray(x, dtype=jnp.complex128), mapped)
    return spec, {"params": cast}


def neel_start(n_sites: int, sigma_N: np.ndarray, alpha: float = 1.0, strength: float = 2.0,
               seed: int = 0) -> tuple[str, dict]:
    """A complex NetKet ``RBM`` close to the product state ``sigma_N`` ``(N,)`` (spec, variables).

    Visible bias ``strength`` · σ_i, so a configuration with k spins unlike ``sigma_N`` has relative
    weight e^(−4 k ``strength``); hidden weights and biases from NetKet's normal initialisation
    (``seed``) — non-zero, or the hidden units would have no TDVP velocity and stay switched off.
    """
    spec = f"netket.RBM:alpha={float(alpha)!r},param_dtype=complex"
    variables = model_from_spec(spec).init(jax.random.PRNGKey(seed), jnp.ones((1, n_sites)))
    params = {**variables["params"], "visible_bias": jnp.asarray(strength * np.asarray(sigma_N), dtype=jnp.complex128)}
    return spec, {"params": params}


@dataclass(frozen=True)
class Evolution:
    """An evolution read back from its directory (the saved times so far).

    Attributes:
        path: the evolution directory.
        config: its ``EvolveConfig``.
        nqs: observables of the network at the saved times (full sums).
        exact: observables of the exactly evolved start at all saved times of the config.
        fidelity_T: |⟨ψ_NQS(t_k)|ψ_exact(t_k)⟩|² at the saved times, shape ``(K,)``.
        status: ``status.json``.
    """

    path: Path
    config: EvolveConfig
    nqs: Trajectory
    exact: Trajectory
    fidelity_T: np.ndarray
    status: dict

    def frame(self) -> pd.DataFrame:
        """One row per saved time: t, fidelity, and each observable of the NQS and (``exact_``) the exact state."""
        nqs = self.nqs.frame()
        exact = self.exact.frame().iloc[:len(nqs)].add_prefix("exact_").drop(columns="exact_t").reset_index(drop=True)
        return pd.concat([nqs.assign(fidelity=self.fidelity_T), exact], axis=1)

    def parameters(self, k: int) -> dict:
        """The variables saved at time t_k."""
        blob = Run(self.path, {}).read_blob(_params_name(k))
        if blob is None:
            raise PhyslensError(f"{self.path} has no parameters at saved time {k}")
        return flax.serialization.msgpack_restore(blob)


def _params_name(k: int) -> str:
    return f"params/{k:05d}.msgpack"


def _make_vstate(config: EvolveConfig, system: SpinSystem, variables) -> nk.vqs.VariationalState:
    model = model_from_spec(config.model)
    if config.mode == "exact":
        vstate = nk.vqs.FullSumState(system.hilbert, model, seed=0)
    else:
        vstate = nk.vqs.MCState(system.metropolis_sampler(config.chains), model, n_samples=config.samples,
                                seed=config.seed, sampler_seed=config.seed + 1)
    try:
        vstate.variables = jax.tree.map(jnp.asarray, variables)
    except (KeyError, ValueError, TypeError) as exc:
        raise PhyslensError(f"the initial parameters do not fit the model {config.model}: {exc}") from None
    return vstate


@lru_cache(maxsize=16)
def _solvers(rtol: float, rtol_smooth: float, holomorphic: bool | None):
    """The linear solver and QGT of TDVP, one object per setting: NetKet compiles per solver object, so a fresh
    object for every save interval would recompile every interval."""
    solver = partial(nk.optimizer.solver.pinv_smooth, rtol=rtol, rtol_smooth=rtol_smooth)
    return solver, nk.optimizer.qgt.QGTJacobianDense(holomorphic=holomorphic)


def advance_interval(config: EvolveConfig, system: SpinSystem, vstate: nk.vqs.VariationalState) -> None:
    """Advance ``vstate`` in place by one save interval under ``system``'s Hamiltonian: ``steps_per_save`` RK4
    steps of a fresh TDVP driver (dense QGT, holomorphic for NetKet's RBM; ``pinv_smooth``).

    The driver steps while its clock is below its end time; ending half a step short of the interval
    makes the count of whole steps immune to the rounding of t = dt + dt + ….
    """
    holomorphic = True if isinstance(vstate.model, nk.models.RBM) else None
    solver, qgt = _solvers(config.rtol, config.rtol_smooth, holomorphic)
    driver = nkx.TDVP(system.hamiltonian, vstate, nkx.dynamics.RK4(config.dt), t0=0.0, linear_solver=solver, qgt=qgt)
    driver.run((config.steps_per_save() - 0.5) * config.dt, show_progress=False)


class _Sitting:
    """One sitting of an evolution: the exact states, the basis tables and the rows so far."""

    def __init__(self, run: Run, config: EvolveConfig, rows: list[dict]):
        self.run, self.config, self.rows = run, config, rows
        self.quench = config.build_quench()
        self.system = self.quench.after
        self.times_K = config.times()
        self.basis = BasisObservables(self.system)
        self.exact_KS = exact_states(self.quench, self.times_K)

    def record(self, k: int, vstate) -> None:
        """Measure and save the network at time t_k: parameters, a metrics row, checkpoint, status."""
        log_psi_S = np.asarray(vstate.log_value(self.basis.basis_SN))
        psi_S = np.exp(log_psi_S - np.max(log_psi_S.real))
        traj = self.basis.trajectory(psi_S[None], self.times_K[k:k + 1], "TDVP")
        row = {"k": k, "t": float(self.times_K[k]), "fidelity": float(fidelity(psi_S, self.exact_KS[k])[0]),
               "m_x": float(traj.m_x_T[0]), "m_z": float(traj.m_z_T[0]), "m_s": float(traj.m_s_T[0]),
               "czz": [float(c) for c in traj.czz_TR[0]], "energy": float(traj.energy_T[0])}
        self.rows.append(row)
        variables = flax.serialization.to_state_dict(vstate.variables)
        self.run.write_blob(_params_name(k), flax.serialization.msgpack_serialize(variables))
        self.run.write_metrics(self.rows)
        checkpoint = {"k": k, "vstate": flax.serialization.to_state_dict(vstate)}
        self.run.write_blob("checkpoint.msgpack", flax.serialization.msgpack_serialize(checkpoint))
        self.run.write_status("running", step=k, t=row["t"], fidelity=row["fidelity"])

    def advance(self, vstate, k: int, max_saves: int | None, progress: bool = False) -> str:
        """Evolve from saved time k to the end (or ``max_saves`` more saved times); returns the final state."""
        with tqdm(total=len(self.times_K) - 1, initial=k, desc=f"TDVP to t = {self.times_K[-1]:g}", unit="saved time",
                  file=sys.stderr, dynamic_ncols=True, disable=not progress) as bar:
            return self._advance(vstate, k, max_saves, bar)

    def _advance(self, vstate, k: int, max_saves: int | None, bar) -> str:
        saves = 0
        while k + 1 < len(self.times_K):
            t_now = float(self.times_K[k])
            if max_saves is not None and saves >= max_saves:
                self.run.write_status("interrupted", step=k, t=t_now, fidelity=self.rows[-1]["fidelity"],
                                      message=f"stopped after {saves} saved times; resume continues from t = {t_now:g}")
                return "interrupted"
            advance_interval(self.config, self.system, vstate)
            if not all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(vstate.parameters)):
                self.run.write_status("failed", step=k, message=f"diverged: non-finite parameters after t = {t_now:g}")
                return "failed"
            k += 1
            saves += 1
            self.record(k, vstate)
            bar.update(1)
            bar.set_postfix(t=f"{self.times_K[k]:g}", fidelity=f"{self.rows[-1]['fidelity']:.4f}")
        self.run.write_status("finished", step=k, t=float(self.times_K[k]), fidelity=self.rows[-1]["fidelity"])
        return "finished"


def _advance_or_mark(sitting: _Sitting, vstate, k: int, max_saves: int | None, progress: bool) -> None:
    """``sitting.advance``; after Ctrl-C or an error the evolution is recorded as interrupted at its last checkpoint."""
    try:
        sitting.advance(vstate, k, max_saves, progress)
    except BaseException as exc:
        sitting.run.mark_interrupted(exc)
        raise


def _reference(sitting: _Sitting) -> dict:
    return {"method": "exact (scipy.sparse.linalg.expm_multiply) on the whole basis",
            "n_states": int(sitting.system.hilbert.n_states), "unit": sitting.system.energy_unit,
            "energy": float(sitting.basis.trajectory(sitting.exact_KS[:1], sitting.times_K[:1], "exact").energy_T[0])}


def evolve(config: EvolveConfig, out: Path | str, variables: Any, *, max_saves: int | None = None,
           progress: bool = False) -> Evolution:
    """Evolve ``variables`` (of ``config.model``) into the new directory ``out``; returns what it holds.

    ``max_saves``: stop, as ``interrupted``, after that many saved times in this sitting (``resume``
    continues); None runs to ``t_end``. ``progress``: a progress bar over the saved times on stderr.
    """
    vstate = _make_vstate(config, config.build_quench().after, variables)
    run = Run.create(out, {"kind": KIND, **config.to_dict()}, {})
    with FolderLock(run.path):
        sitting = _Sitting(run, config, [])
        atomic_write_text(run.path / "reference.json", json.dumps(_reference(sitting), indent=2))
        atomic_write_text(run.path / "exact.csv", _exact_trajectory(sitting).frame().to_csv(index=False))
        run.write_blob("initial.msgpack", flax.serialization.msgpack_serialize(
            flax.serialization.to_state_dict(jax.tree.map(np.asarray, variables))))
        sitting.record(0, vstate)
        _advance_or_mark(sitting, vstate, 0, max_saves, progress)
    return load(out)


def _exact_trajectory(sitting: _Sitting) -> Trajectory:
    return sitting.basis.trajectory(sitting.exact_KS, sitting.times_K, "exact (expm_multiply)")


def _open(path: Path | str) -> tuple[Run, EvolveConfig]:
    run = Run.open(path, kind=KIND)
    return run, EvolveConfig.from_dict(run.settings)


def resume(path: Path | str, *, max_saves: int | None = None, progress: bool = False) -> Evolution:
    """Continue an interrupted evolution from its last checkpoint; one that has ended is just loaded."""
    run, config = _open(path)
    with FolderLock(run.path):
        if run.status["state"] in TERMINAL_STATES:
            return load(path)
        snapshot = run.read_state("checkpoint.msgpack")
        if snapshot is None:
            raise PhyslensError(f"{run.path} has no checkpoint to resume from; allowed: a new evolution")
        k = int(snapshot["k"])
        sitting = _Sitting(run, config, [r for r in run.metrics_rows() if r["k"] <= k])
        initial = flax.serialization.msgpack_restore(run.read_blob("initial.msgpack"))
        template = _make_vstate(config, sitting.system, initial)
        vstate = flax.serialization.from_state_dict(template, snapshot["vstate"])
        _advance_or_mark(sitting, vstate, k, max_saves, progress)
    return load(path)


def load(path: Path | str) -> Evolution:
    """Read an evolution directory: the NQS and exact trajectories and the fidelity at the saved times."""
    run, config = _open(path)
    rows = run.metrics_rows()
    if not rows:
        raise PhyslensError(f"{run.path} holds no saved times yet")
    exact = pd.read_csv(run.path / "exact.csv")
    unit = config.build_quench().after.energy_unit
    czz_columns = [c for c in exact.columns if c.startswith("czz_")]
    exact_traj = Trajectory(exact["t"].to_numpy(), exact["m_x"].to_numpy(), exact["m_z"].to_numpy(),
                            exact["m_s"].to_numpy(), exact[czz_columns].to_numpy(), exact["energy"].to_numpy(), unit,
                            "exact (expm_multiply)")
    method = f"TDVP (RK4, dt={config.dt:g}, {'full sum' if config.mode == 'exact' else 'Monte Carlo'})"
    nqs = Trajectory(*(np.array([r[key] for r in rows]) for key in ("t", "m_x", "m_z", "m_s", "czz", "energy")),
                     unit, method)
    return Evolution(run.path, config, nqs, exact_traj, np.array([r["fidelity"] for r in rows]), run.status)
