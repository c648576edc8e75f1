"""What a training run records about its final state: energy, ε, variance, C_zz(r), size, collapse.

Exact sums where the basis fits (``MAX_FULLSUM_STATES``, or a protocol's ``check_max_states``; also in sampled
mode), else the last sampled energies and the current samples. A state that training pushed onto one or two
configurations (a huge learning rate) can sit far from E0 with a vanishing local-energy
variance; ``collapse_reason`` names it, and training then ends the run ``failed``.

    fullsum = FullSumEnergy(system, model)
    summary, reason = final_summary(system, "exact", vstate, fullsum, recent_rows, e0)
"""

from __future__ import annotations

import math

import jax
import netket as nk
import numpy as np

from physlens.quantum import observables
from physlens.quantum.evaluators import MAX_FULLSUM_STATES, basis_size
from physlens.quantum.systems import SpinSystem

COLLAPSE_EPS = 1e-2
"""A final ε above this, on a state concentrated on a few configurations, marks a collapse."""
COLLAPSE_CONFIGS = 2.5
"""Effective number of configurations (1/Σp² over the basis, or distinct samples) below which a state is concentrated."""
COLLAPSE_VARIANCE = 1e-10
"""Local-energy variance, relative to max(E², 1), below which a sampled state far from E0 counts as collapsed."""


def count_words(n: int) -> str:
    """A basis size for a message: digits with separators, or its power of ten when huge."""
    return f"{n:,}" if n < 10**12 else f"about 10^{len(str(n)) - 1}"


def relative_error(energy: float, e0: float | None) -> float | None:
    """ε = |E − E0|/|E0|, None when there is no reference energy."""
    return None if e0 is None else abs(energy - e0) / abs(e0)


def collapse_reason(eps: float | None, energy: float, variance: float, n_configs: float | None) -> str:
    """Why a final state looks collapsed (empty when it does not).

    Collapsed: ε > ``COLLAPSE_EPS`` with the state on fewer than ``COLLAPSE_CONFIGS`` effective
    configurations (``n_configs``) or with a local-energy ``variance`` below ``COLLAPSE_VARIANCE``·max(E², 1)
    (a state on one configuration has a vanishing local-energy variance without being an eigenstate);
    without a reference energy (``eps`` None), both at once.
    """
    concentrated = n_configs is not None and n_configs < COLLAPSE_CONFIGS
    vanishing = variance <= COLLAPSE_VARIANCE * max(energy**2, 1.0)
    collapsed = (eps > COLLAPSE_EPS and (concentrated or vanishing)) if eps is not None else (concentrated and vanishing)
    if not collapsed:
        return ""
    where = "" if n_configs is None else f" on {n_configs:.3g} configuration(s)"
    accuracy = "" if eps is None else f"ε = {eps:.3g}, "
    return (f"collapsed: {accuracy}the state sits{where} with energy variance {variance:.2g}; "
            "allowed: a smaller learning rate or a larger diag_shift")


class FullSumEnergy:
    """Exact ⟨H⟩ of a model's variables by a full sum over the basis (jitted once per instance).

    Only for bases of at most ``max_states`` states (``available`` says); one check costs one log ψ over the
    basis and one sparse matrix–vector product (0.2–0.3 s at 2^20 states on one core, ``bench/fullsum_check.py``).

    Attributes:
        available: whether the basis fits.
        basis: the basis states, shape ``(S, N)`` (None when not available).
    """

    def __init__(self, system: SpinSystem, model, max_states: int = MAX_FULLSUM_STATES):
        self.system = system
        self.available = basis_size(system) <= max_states
        self._apply = jax.jit(model.apply)
        self.basis = np.asarray(system.hilbert.all_states()) if self.available else None

    def log_psi(self, variables) -> np.ndarray:
        """log ψ of ``variables`` over the whole basis, shape ``(S,)``."""
        return np.asarray(self._apply(variables, self.basis))

    def __call__(self, variables) -> float | None:
        """⟨H⟩ in the system's energy unit, None when the basis does not fit."""
        if not self.available:
            return None
        return self.system.energy_of(self.log_psi(variables))


def final_summary(system: SpinSystem, mode: str, vstate: nk.vqs.VariationalState, fullsum: FullSumEnergy,
                  recent: list[dict], e0: float | None) -> tuple[dict, str]:
    """The status fields of a run's final parameters, and the reason it looks collapsed (empty if not).

    Args:
        system: the trained system; mode: ``exact`` or ``sampled``; vstate: NetKet's variational state.
        fullsum: exact energies of this model; recent: the last logged metric rows (sampled energies).
        e0: the reference energy (None: ε unavailable).

    Returns ``energy`` and ``energy_method``, ``eps``, ``variance`` (of the local energy, energy unit²),
    ``n_parameters``, ``collapsed`` and, for a finite energy, ``czz`` (C_zz(r), ħ²) and ``czz_method``.
    """
    variables = vstate.variables
    energy = fullsum(variables)
    method = "full sum over the basis"
    recent = [r for r in recent if r.get("energy") is not None]
    if energy is None:
        energy = float(np.mean([r["energy"] for r in recent])) if recent else math.nan
        method = "mean of last sampled energies"
    if mode == "exact":
        variance = float(vstate.expect(system.hamiltonian).variance)
    else:
        variance = recent[-1]["variance"] if recent and recent[-1]["variance"] is not None else math.nan
    finite = math.isfinite(energy)
    summary = {"energy": energy, "energy_method": method, "eps": relative_error(energy, e0) if finite else None,
               "variance": variance,
               "n_parameters": int(sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(variables))),
               "collapsed": False}
    if not finite:
        return summary, ""
    if fullsum.available:
        configs = observables.Configurations.from_log_psi(fullsum.basis, fullsum.log_psi(variables))
        n_configs = 1.0 / float(np.sum(configs.weights_S**2))
    else:
        configs = observables.Configurations.from_vstate(vstate)
        n_configs = float(len(np.unique(np.asarray(configs.sigma_SN), axis=0)))
    czz = observables.czz(system, configs)
    reason = collapse_reason(summary["eps"], energy, variance, n_configs)
    summary |= {"czz": [float(c) for c in czz.value], "czz_method": "exact sum" if czz.exact else "current samples",
                "collapsed": bool(reason)}
    return summary, reason
