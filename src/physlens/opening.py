"""The front door: ``physlens.open`` takes a trained network from wherever it lives.

A source is any of

- a physlens run folder (its system, model and variables come from the run);
- a NetKet variational state in memory (``MCState``, ``FullSumState``);
- a file NetKet users write: the flax msgpack of the variables (the ``.mpack`` of
  NetKet's ``JsonLog``), ``flax.serialization.to_bytes`` of a whole state, or an
  ``nqxpack`` archive (which records the model itself);
- a Flax module with its variables.

Every one becomes an ``Opened``: the system (a model never knows its Hamiltonian, so
give it with ``system=`` unless the source is a run), the model, its variables and a
record of where they came from — enough for every analysis and report, with or
without a training history::

    import physlens as pl
    m = pl.open("rbm.mpack", system="heisenberg-ring", size=10, model="netket.RBM:alpha=2")
    m.hook_names()                                    # ['Dense', 'hidden.pre', 'hidden.post']
    m.evaluator().evaluate([pl.Ablate("hidden.post", [3])]).to_frame()
    pl.units(m).unit_frame()
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import netket as nk
import numpy as np

from physlens.errors import PhyslensError
from physlens.lens.hooks import Lens
from physlens.nuclear import train as nuclear_train
from physlens.nuclear.targets import NuclearData
from physlens.quantum import evaluators, observables
from physlens.quantum import train as quantum_train
from physlens.quantum.registry import describe, entry_for, lens_of, load_variables, model_from_spec, n_parameters
from physlens.quantum.systems import SpinSystem, make_system
from physlens.runs import Run

LOADERS = {"nqs": quantum_train.load, "nuclear": nuclear_train.load}
"""How a physlens run of each kind (``config.toml``'s ``kind``) is restored."""


@dataclass
class Opened:
    """A trained network opened for analysis.

    Attributes:
        system: the physical system (a ``SpinSystem``; ``NuclearData`` for a nuclear run).
        model: the Flax module, log ψ(σ) for configurations ``(B, N)`` of ±1.
        variables: its variables (``{"params": ...}``).
        source: what was opened (a path, or the kind of in-memory object).
        origin: ``physlens run``, ``netket state``, ``flax msgpack``, ``nqxpack archive`` or ``flax module``.
        run: the run folder when the source is a physlens run, else None (no training history).
        notes: things a reader of any result should know (e.g. a different Hilbert space).
    """

    system: Any
    model: nn.Module
    variables: Any
    source: str
    origin: str
    run: Run | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def of_run(cls, run: Run) -> "Opened":
        """A loaded physlens run (``run.system``, ``run.model``, ``run.variables`` set) as an ``Opened``."""
        return cls(run.system, run.model, run.variables, str(run.path), "physlens run", run=run)

    @property
    def is_spin(self) -> bool:
        """Whether the system is a spin system (so energies, evaluators and C_zz apply)."""
        return isinstance(self.system, SpinSystem)

    def _spin_system(self) -> SpinSystem:
        if not self.is_spin:
            raise PhyslensError(f"{self.source} is not a spin-system model; this needs one")
        return self.system

    @property
    def description(self) -> str:
        """The model's registry name and non-default settings, e.g. ``netket.RBM(alpha=2)``."""
        return describe(self.model)

    @property
    def n_parameters(self) -> int:
        """Number of real parameters (a complex one counts as two)."""
        return n_parameters(self.variables)

    def example(self) -> np.ndarray:
        """One input the model accepts: ``(1, N)`` spins of +1, or the first nucleus ``(1, 3)`` (Z, N, task)."""
        if isinstance(self.system, NuclearData):
            return np.asarray(self.system.x_R3[:1])
        return np.ones((1, self._spin_system().n_sites))

    def log_psi(self, sigma_BN: jax.Array) -> jax.Array:
        """log ψ of configurations ``(B, N)`` (values ±1), shape ``(B,)``; complex for complex models."""
        return self.model.apply(self.variables, sigma_BN)

    def lens(self) -> Lens:
        """The model opened at every site (``physlens.lens.hooks``)."""
        return lens_of(self.model, self.variables, self.example())

    def hook_names(self) -> list[str]:
        """Every site of the model: module paths (``Dense``, ``Dense_0``) and physlens aliases (``hidden.post``,
        added to known models by the registry)."""
        return self.lens().hook_names()

    def units_hook(self) -> str | None:
        """The site whose components are the hidden units (from the model registry), or None."""
        units = entry_for(self.model).units(self.model)
        return None if units is None else units[0]

    def evaluator(self, exact: bool | None = None, **sampled_options):
        """An evaluator of interventions: exact (a full sum) where the basis has at most
        ``evaluators.MAX_FULLSUM_STATES`` states or when ``exact`` is True, else Monte Carlo
        (``n_samples``, ``seed``, ``observables``, ``resample``; see ``physlens.quantum.evaluators``)."""
        return evaluators.evaluator(self._spin_system(), self.model, self.variables, exact, **sampled_options)

    def configurations(self, exact: bool | None = None, **sampled_options) -> observables.Configurations:
        """The basis with Born weights where it fits (or when ``exact``), else Monte Carlo samples of |ψ|²."""
        return evaluators.configurations(self._spin_system(), jax.jit(self.log_psi), exact, **sampled_options)

    def energy(self, exact: bool | None = None, **sampled_options) -> observables.Estimate:
        """⟨H⟩ of the model in the system's energy unit, exact or sampled (``Estimate.exact`` says)."""
        return observables.energy(self._spin_system(), jax.jit(self.log_psi), self.configurations(exact, **sampled_options))

    def energy_variance(self, exact: bool | None = None, **sampled_options) -> float:
        """⟨H²⟩ − ⟨H⟩² of the model as the variance of the local energy, in the system's unit squared
        (zero for an eigenstate), exact or sampled."""
        configs = self.configurations(exact, **sampled_options)
        e_loc_S = observables.local_energy_per_config(self._spin_system(), jax.jit(self.log_psi), configs.sigma_SN)
        mean = configs.weights_S @ e_loc_S
        return float(np.real(configs.weights_S @ np.abs(e_loc_S - mean) ** 2))

    def reference(self) -> dict | None:
        """The ground-state energy to measure ε against, ``{"energy", "unit", "method"}``: a run's recorded
        reference (Lanczos, a closed form or a literature value), else Lanczos where the basis fits
        (≤ ``evaluators.MAX_FULLSUM_STATES`` states); None when neither is available."""
        recorded = self.run.reference if self.run is not None else {}
        if recorded.get("energy") is not None:
            return {"energy": float(recorded["energy"]), "unit": recorded.get("unit", ""), "method": recorded["method"]}
        if self.is_spin and evaluators.fits_exactly(self.system):
            exact = self.system.exact()
            return {"energy": exact.energy, "unit": exact.unit, "method": exact.method}
        return None

    def czz(self, exact: bool | None = None, **sampled_options) -> observables.Estimate:
        """C_zz(r) of the model, r = 0 … N//2 (ħ²), exact or sampled."""
        return observables.czz(self._spin_system(), self.configurations(exact, **sampled_options))

    def metadata(self) -> dict:
        """Where the model came from and what it is, for result files and reports."""
        meta = {"source": self.source, "origin": self.origin, "model": self.description,
                "parameters": self.n_parameters, "notes": list(self.notes)}
        if self.is_spin:
            meta |= {"system": self.system.params(), "energy_unit": self.system.energy_unit,
                     "evaluation": "exact full sum" if evaluators.fits_exactly(self.system) else "Monte Carlo"}
        if self.run is not None:
            meta["status"] = self.run.status
        return meta


def open(source: Any, system: SpinSystem | str | None = None, *, size: int | None = None, model: Any = None,
         variables: Any = None, **system_params: Any) -> Opened:
    """Open a trained network for analysis (see the module docstring for the sources).

    Args:
        source: a run folder or file path, a NetKet variational state, a Flax module, or ``(module, variables)``.
        system: a ``SpinSystem`` or a system name (``heisenberg-ring``, ``tfim-chain``, …) with ``size``
            and its parameters as keywords (``h=0.5``); not needed for a physlens run.
        model: for a file without a recorded model: a Flax module or a spec (``netket.RBM:alpha=2``,
            ``package.module:Class:k=v``, see ``physlens.quantum.registry.model_from_spec``).
        variables: the variables of a Flax module ``source``.
    """
    spin = _system(system, size, system_params)
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[0], nn.Module):
        source, variables = source
    if isinstance(source, nk.vqs.VariationalState):
        return _from_state(source, spin, type(source).__name__)
    if isinstance(source, nn.Module):
        if variables is None:
            raise PhyslensError("a Flax module needs its variables: physlens.open(module, system=..., variables=...)")
        return _checked(Opened(_need(spin, "a Flax module"), source, variables, type(source).__name__, "flax module"))
    if isinstance(source, (str, Path)):
        return _from_path(Path(source), spin, model)
    raise PhyslensError(f"cannot open a {type(source).__name__}; allowed: a run folder, a NetKet state or its saved "
                        "file (.mpack/.msgpack, nqxpack archive), a Flax module with variables")


def load_run(path: Path | str) -> Run:
    """A physlens run of any kind, restored (``run.system``, ``run.model``, ``run.variables``)."""
    kind = Run.open(path).config["kind"]
    if kind not in LOADERS:
        raise PhyslensError(f"{path} holds an {kind}, a trajectory of states rather than one model; "
                            "allowed: a run folder of a trained model (physlens.quantum.dynamics.load opens an evolution)")
    return LOADERS[kind](path)


def _system(system, size, params) -> SpinSystem | None:
    if system is None or isinstance(system, SpinSystem):
        if size is not None or params:
            raise PhyslensError("size= and system parameters go with a system name, e.g. system='tfim-chain', size=8")
        return system
    if isinstance(system, str):
        if size is None:
            raise PhyslensError(f"system {system!r} needs size= (N for chains and rings, L for square lattices)")
        return make_system(system, size, **params)
    raise PhyslensError(f"system must be a physlens SpinSystem or a system name; got {type(system).__name__}")


def _need(spin: SpinSystem | None, what: str) -> SpinSystem:
    if spin is None:
        raise PhyslensError(f"{what} does not know its Hamiltonian; pass system= (a name with size=, or a SpinSystem)")
    return spin


def _from_state(state, spin: SpinSystem | None, source: str, origin: str = "netket state") -> Opened:
    spin = _need(spin, f"a NetKet {type(state).__name__}")
    notes = []
    if state.hilbert.size != spin.n_sites:
        raise PhyslensError(f"the state has {state.hilbert.size} sites; {spin.kind} of size {spin.n_sites} sites")
    if state.hilbert != spin.hilbert:
        notes.append(f"the state's Hilbert space ({state.hilbert}) differs from the system's ({spin.hilbert}); "
                     "physlens evaluates over the system's")
    return _checked(Opened(spin, state.model, state.variables, source, origin, notes=notes))


def _from_path(path: Path, spin: SpinSystem | None, model) -> Opened:
    if path.is_dir():
        if spin is not None or model is not None:
            raise PhyslensError(f"{path} is a physlens run: it records its system and model; drop system= and model=")
        return Opened.of_run(load_run(path))
    if not path.is_file():
        raise PhyslensError(f"{path} does not exist; give a run folder or a saved NetKet state")
    if zipfile.is_zipfile(path):
        return _from_nqxpack(path, spin)
    if model is None:
        raise PhyslensError(f"{path} holds variables only; pass model= (e.g. 'netket.RBM:alpha=2' or a Flax module)")
    module = model_from_spec(model) if isinstance(model, str) else model
    spin = _need(spin, f"{path}")
    return _checked(Opened(spin, module, load_variables(module, path, spin.n_sites), str(path), "flax msgpack"))


def _from_nqxpack(path: Path, spin: SpinSystem | None) -> Opened:
    import nqxpack

    try:
        state = nqxpack.load(path)
    except Exception as exc:  # nqxpack reports unreadable archives with many types
        raise PhyslensError(f"{path} is a zip file but not a readable nqxpack archive ({type(exc).__name__})") from None
    if not isinstance(state, nk.vqs.VariationalState):
        raise PhyslensError(f"{path} holds a {type(state).__name__}; physlens opens nqxpack archives of NetKet states")
    return _from_state(state, spin, str(path), "nqxpack archive")


def _checked(opened: Opened) -> Opened:
    """Refuse a model that does not map the system's configurations to finite log-amplitudes."""
    try:
        out = np.asarray(opened.log_psi(opened.example()))
    except Exception as exc:  # a user's module can fail in any way on a wrong input
        raise PhyslensError(f"{opened.description} fails on {opened.system.n_sites}-site configurations: "
                            f"{type(exc).__name__}: {exc}".splitlines()[0]) from None
    if out.shape != (1,) or not np.all(np.isfinite(out)):
        raise PhyslensError(f"{opened.description} gives log ψ of shape {out.shape} ({out.ravel()[:2]}) for one "
                            "configuration; it must give one finite number per configuration")
    return opened
