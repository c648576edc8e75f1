"""Activation datasets: a model's activations at one hook point over configurations, with their observables.

``collect_activations`` runs a physlens model (a run, or model + variables + system)
on configurations drawn from its own |ψ|² and captures one hook point:

- ``method="exact"``: the whole (symmetry-constrained) basis, with Born weights
  |ψ(σ)|²/Σ|ψ|² (``auto`` up to ``MAX_EXACT_STATES`` states, ``exact`` up to
  ``MAX_REQUESTED_EXACT_STATES``);
- ``method="sampled"``: Monte Carlo samples from |ψ|² (NetKet ``MCState``, exchange
  moves where S^z is conserved, single flips elsewhere), uniform weights;
- ``method="auto"``: exact when the basis fits, sampled otherwise.

Token activations ``(S, T, D)`` are kept per token or mean-pooled to ``(S, D)``. The
dataset carries the configurations (int8 ±1), their weights, log ψ, the per-configuration
observables of ``config_observables.observable_table`` and how it was made; it saves to
and loads from one ``.npz`` file (written atomically)::

    data = activations_from_run("runs/sae-study/heisenberg-4x4", "resid.final", pool=True)
    data.acts.shape, data.observables["abs_m_s"].shape, data.method
    data.save("acts.npz"); ActivationDataset.load("acts.npz")
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import numpy.typing as npt
import pandas as pd

from physlens.errors import PhyslensError, check_choice
from physlens.quantum.config_observables import observable_table
from physlens.quantum.registry import lens_of
from physlens.quantum.systems import SpinSystem
from physlens.quantum.train import load
from physlens.runs import Run, atomic_write_bytes

METHODS = ("auto", "exact", "sampled")
MAX_EXACT_STATES = 2**17
"""Largest basis ``method="auto"`` enumerates (the 4×4 Heisenberg S^z = 0 sector has 12 870)."""
MAX_REQUESTED_EXACT_STATES = 2**20
"""Largest basis ``method="exact"`` enumerates when asked for (the 20-site chain: per-token float64 activations of
width 16 take 1.3 GB, and the observable table's local energies a forward pass per connected configuration)."""
CHUNK = 2048
"""Configurations per jitted forward pass."""


@dataclass(frozen=True)
class ActivationDataset:
    """Activations of one hook point over S configurations, with weights and observables.

    Attributes:
        sigma_SN: configurations, int8 ±1, shape ``(S, N)``.
        weights_S: Born weights |ψ|²/Σ|ψ|² (exact) or 1/S (sampled), summing to 1, ``(S,)``.
        log_psi_S: log ψ of each configuration, ``(S,)``.
        acts: activations, ``(S, D)`` (pooled, or a hook without tokens) or ``(S, T, D)`` per token.
        observables: name → per-configuration value, ``(S,)`` each.
        observable_units: name → unit of the observable.
        method: ``"exact"`` (whole basis) or ``"sampled"`` (Monte Carlo from |ψ|²).
        hook: the hook point name.
        pooled: True when token activations were mean-pooled over tokens.
        unit: the system's energy unit.
        system: the system's parameters (``SpinSystem.params()``).
    """

    sigma_SN: np.ndarray
    weights_S: np.ndarray
    log_psi_S: np.ndarray
    acts: np.ndarray
    observables: dict[str, np.ndarray]
    observable_units: dict[str, str]
    method: str
    hook: str
    pooled: bool
    unit: str
    system: dict

    @property
    def exact(self) -> bool:
        """True when the rows are the whole basis with exact Born weights (``method == "exact"``)."""
        return self.method == "exact"

    def tokens_flat(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-token activations flattened to ``(S·T, D)`` with weights ``(S·T,)`` (w_s/T each), summing to 1."""
        if self.acts.ndim != 3:
            raise PhyslensError(f"hook {self.hook} activations have shape {self.acts.shape}; tokens need (S, T, D)")
        n_tokens = self.acts.shape[1]
        return self.acts.reshape(-1, self.acts.shape[-1]), np.repeat(self.weights_S / n_tokens, n_tokens)

    def to_frame(self) -> pd.DataFrame:
        """One row per configuration: weight, log ψ and every observable."""
        return pd.DataFrame({"weight": self.weights_S, "log_psi": self.log_psi_S, **self.observables})

    def save(self, path: Path | str) -> None:
        """Write the dataset to one ``.npz`` file atomically."""
        meta = {"method": self.method, "hook": self.hook, "pooled": self.pooled, "unit": self.unit,
                "system": self.system, "observable_units": self.observable_units,
                "observables": list(self.observables)}
        arrays = {"sigma_SN": self.sigma_SN, "weights_S": self.weights_S, "log_psi_S": self.log_psi_S,
                  "acts": self.acts, **{f"obs:{k}": v for k, v in self.observables.items()}}
        buf = io.BytesIO()
        np.savez(buf, meta=np.array(json.dumps(meta)), **arrays)
        atomic_write_bytes(Path(path), buf.getvalue())

    @classmethod
    def load(cls, path: Path | str) -> "ActivationDataset":
        """Read a dataset written by ``save``."""
        path = Path(path)
        if not path.is_file():
            raise PhyslensError(f"activation dataset {path} does not exist")
        try:
            with np.load(path) as f:
                meta = json.loads(str(f["meta"]))
                arrays = {k: f[k] for k in ("sigma_SN", "weights_S", "log_psi_S", "acts")}
                observables = {k: f[f"obs:{k}"] for k in meta["observables"]}
        except (KeyError, ValueError, OSError) as exc:
            raise PhyslensError(f"{path} is not an activation dataset: {exc}") from None
        return cls(**arrays, observables=observables, observable_units=meta["observable_units"], method=meta["method"],
                   hook=meta["hook"], pooled=meta["pooled"], unit=meta["unit"], system=meta["system"])


def log_psi_function(model: nn.Module, variables: Any, chunk: int = CHUNK) -> Callable[[np.ndarray], np.ndarray]:
    """A NumPy log ψ: configurations ``(B, N)`` → ``(B,)``, jitted, evaluated in chunks of at most ``chunk``."""
    apply = jax.jit(model.apply)
    return lambda sigma_BN: in_chunks(lambda x: apply(variables, x), np.asarray(sigma_BN, dtype=float), chunk)


def in_chunks(fn: Callable[[np.ndarray], npt.ArrayLike], x_B: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """``fn`` (a jitted function of a batch, leading axis B) over ``x_B`` in padded blocks of at most ``chunk`` rows,
    as one NumPy array: what a whole basis would need at once in XLA's intermediates, block by block."""
    size = _bucket(len(x_B), chunk)
    blocks = [x_B[i:i + size] for i in range(0, len(x_B), size)]
    return np.concatenate([np.asarray(fn(_pad(b, size)))[:len(b)] for b in blocks] or [np.zeros(0)])


def _bucket(n: int, chunk: int) -> int:
    """Block size for n configurations: the next power of two, at most ``chunk`` (few distinct compilations)."""
    return min(chunk, 1 << max(n - 1, 0).bit_length())


def _pad(block: np.ndarray, size: int) -> np.ndarray:
    """Pad the last block of configurations to ``size`` rows (repeating its last row) so one compilation serves all."""
    return np.concatenate([block, np.repeat(block[-1:], size - len(block), axis=0)]) if len(block) < size else block


def capture(model: nn.Module, variables: Any, sigma_SN: np.ndarray, hook: str,
            chunk: int = CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """log ψ ``(S,)`` and the activations at ``hook`` ``(S, ...)`` of configurations ``(S, N)``, in jitted chunks."""
    lens = lens_of(model, variables)
    lens.run_with_cache(jnp.ones((1, sigma_SN.shape[1])), [hook])

    @jax.jit
    def run(x):
        out, cache = lens.run_with_cache(x, [hook])
        return out, cache[hook]

    outs, acts = [], []
    size = _bucket(len(sigma_SN), chunk)
    for i in range(0, len(sigma_SN), size):
        block = np.asarray(sigma_SN[i:i + size], dtype=float)
        out, act = run(_pad(block, size))
        outs.append(np.asarray(out)[:len(block)])
        acts.append(np.asarray(act)[:len(block)])
    return np.concatenate(outs), np.concatenate(acts)


def sample_configurations(system: SpinSystem, model: nn.Module, variables: Any, n_samples: int, *, chains: int = 16,
                          seed: int = 0, n_discard_per_chain: int = 100) -> np.ndarray:
    """``n_samples`` configurations ``(S, N)`` from |ψ|² by Metropolis (exchange moves when S^z is conserved)."""
    if n_samples < chains or n_samples % chains:
        raise PhyslensError(f"n_samples ({n_samples}) must be a positive multiple of chains ({chains})")
    vstate = nk.vqs.MCState(system.metropolis_sampler(chains), model, n_samples=n_samples, n_discard_per_chain=n_discard_per_chain,
                            seed=seed, sampler_seed=seed + 1)
    vstate.variables = variables
    return np.asarray(vstate.sample()).reshape(-1, system.n_sites)


def collect_activations(model: nn.Module, variables: Any, system: SpinSystem, hook: str, *, method: str = "auto",
                        pool: bool = True, n_samples: int = 4096, chains: int = 16, seed: int = 0,
                        with_observables: bool = True) -> ActivationDataset:
    """Capture ``hook`` over the basis (Born weights) or over samples of |ψ|² (see the module docstring).

    ``pool`` mean-pools token activations ``(S, T, D)`` to ``(S, D)`` (other shapes are kept).
    ``with_observables`` adds ``observable_table`` (including the local energy and bond energies).
    """
    check_choice("method", method, METHODS)
    size = system.hilbert.n_states if system.hilbert.is_indexable else None
    if method == "auto":
        method = "exact" if size is not None and size <= MAX_EXACT_STATES else "sampled"
    if method == "exact":
        if size is None or size > MAX_REQUESTED_EXACT_STATES:
            raise PhyslensError(f"{system.kind} has {size or 'too many'} basis states; exact activation datasets "
                                f"allow at most {MAX_REQUESTED_EXACT_STATES}; use method='sampled'")
        sigma_SN = np.asarray(system.hilbert.all_states())
    else:
        sigma_SN = sample_configurations(system, model, variables, n_samples, chains=chains, seed=seed)
    log_psi_S, acts = capture(model, variables, sigma_SN, hook)
    if method == "exact":
        p_S = np.exp(2.0 * (np.real(log_psi_S) - np.real(log_psi_S).max()))
        weights_S = p_S / p_S.sum()
    else:
        weights_S = np.full(len(sigma_SN), 1.0 / len(sigma_SN))
    pooled = bool(pool and acts.ndim == 3)
    if pooled:
        acts = acts.mean(axis=1)
    values, units = {}, {}
    if with_observables:
        table = observable_table(system, sigma_SN, log_psi_function(model, variables))
        values, units = table.values, table.units
    return ActivationDataset(sigma_SN.astype(np.int8), weights_S, log_psi_S, acts, values, units, method, hook,
                             pooled, system.energy_unit, system.params())


def activations_from_run(run: Run | Path | str, hook: str, **kwargs: Any) -> ActivationDataset:
    """``collect_activations`` on a trained run (a ``Run`` or its directory); keyword arguments as there."""
    if not isinstance(run, Run) or getattr(run, "model", None) is None:
        run = load(run.path if isinstance(run, Run) else run)
    return collect_activations(run.model, run.variables, run.system, hook, **kwargs)
