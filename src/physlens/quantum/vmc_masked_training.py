"""Masked training through NetKet's VMC driver: SR or Adam, on Monte Carlo samples or full sums.

``physlens.quantum.masked_training`` trains K masked networks at once with Adam on the
exact gradient; this module trains them the way NetKet users (and Barton et al.'s
sparse-nqs code, whose figures use it) do: one ``nk.driver.VMC`` per network, with

- ``optimizer="sr"``: plain gradient steps (``nk.optimizer.Sgd``) preconditioned by
  stochastic reconfiguration (``nk.optimizer.SR(diag_shift)``, NetKet's default solver);
- ``optimizer="adam"``: Adam on the plain gradient;

and a ``MetropolisLocal`` sampler, or single spin flips and star flips on the toric code
(``mode="sampled"``: ``chains`` chains, ``samples``
samples per step, ``discard`` discarded per chain) or a full sum (``mode="exact"``,
``FullSumState``). The mask multiplies the weights inside the forward pass
(``physlens.lens.pruning.Masked``), so a pruned weight has zero gradient and zero rows in
the quantum geometric tensor and stays exactly 0. The K networks run one after another
(a NetKet driver does not batch over networks); each network's sampler seed is a hash of
its start parameters and mask (``masked_training.content_seed``), so a resumed study draws the same samples.

Whatever the training mode, the returned energies are exact full sums
(``masked_training.EnergyAndGrad``) for an ``ExactProblem``; for a system beyond the exact
basis (a ``monte_carlo_problem.MonteCarloProblem``) they are Monte Carlo estimates with
standard errors, against the problem's reference energy, and say so (``MaskedTraining.method``).

Usage::

    settings = VMCSettings(optimizer="sr", learning_rate=0.008, diag_shift=1e-3, mode="sampled")
    result = train_masked_vmc(model, system, problem, params, masks, steps=1000, settings=settings,
                              energy_and_grad=make_energy_and_grad(model, problem))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import flax.linen as nn
import jax
import netket as nk
import numpy as np
import optax

from physlens.errors import PhyslensError, check_choice
from physlens.lens.mask import Mask
from physlens.lens.pruning import Masked, masked_variables
from physlens.quantum.masked_training import EnergyAndGrad, ExactProblem, MaskedTraining, content_seed, stack_trees
from physlens.quantum.systems import SpinSystem
from physlens.quantum.toric_sampler import toric_code_sampler

if TYPE_CHECKING:
    from physlens.quantum.monte_carlo_problem import MonteCarloProblem

OPTIMIZERS = ("adam", "sr")
MODES = ("exact", "sampled")
SAMPLERS = ("local", "toric-code")


@dataclass(frozen=True)
class VMCSettings:
    """How each network is trained.

    Attributes:
        optimizer: ``sr`` (gradient steps on the SR-preconditioned gradient) or ``adam`` (Adam, no SR).
        learning_rate: step size η.
        diag_shift: SR's diagonal shift ε (``sr`` only).
        mode: ``sampled`` (``MetropolisLocal``) or ``exact`` (full sum over the basis).
        samples: Monte Carlo samples per step (``sampled``).
        chains: Markov chains (``sampled``).
        discard: samples discarded per chain at each step (``sampled``).
        sampler: ``local`` (``MetropolisLocal``) or ``toric-code`` (single spin flips and star flips,
            ``physlens.quantum.toric_sampler``).
    """

    optimizer: str = "sr"
    learning_rate: float = 0.008
    diag_shift: float = 1e-3
    mode: str = "sampled"
    samples: int = 1024
    chains: int = 16
    discard: int = 5
    sampler: str = "local"

    def __post_init__(self):
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("mode", self.mode, MODES)
        check_choice("sampler", self.sampler, SAMPLERS)
        if self.learning_rate <= 0 or self.diag_shift < 0 or min(self.samples, self.chains) < 1 or self.discard < 0:
            raise PhyslensError(f"need learning_rate > 0, diag_shift >= 0, samples and chains >= 1, discard >= 0; got "
                                f"{self.learning_rate}, {self.diag_shift}, {self.samples}, {self.chains}, {self.discard}")


def _driver(system: SpinSystem, model: nn.Module, params: Any, mask: Mask, settings: VMCSettings, seed: int):
    variables = masked_variables(params, mask)
    if settings.mode == "exact":
        state = nk.vqs.FullSumState(system.hilbert, Masked(model), variables=variables)
    else:
        sampler = (toric_code_sampler(system, settings.chains) if settings.sampler == "toric-code"
                   else nk.sampler.MetropolisLocal(system.hilbert, n_chains=settings.chains))
        state = nk.vqs.MCState(sampler, Masked(model), variables=variables, n_samples=settings.samples,
                               n_discard_per_chain=settings.discard, seed=seed, sampler_seed=seed + 1)
    if settings.optimizer == "sr":
        return nk.driver.VMC(system.hamiltonian, nk.optimizer.Sgd(settings.learning_rate), variational_state=state,
                             preconditioner=nk.optimizer.SR(diag_shift=settings.diag_shift))
    return nk.driver.VMC(system.hamiltonian, optax.adam(settings.learning_rate), variational_state=state)


def _params_of(driver) -> Any:
    return jax.tree_util.tree_map(np.asarray, driver.state.variables["params"])


def train_masked_vmc(model: nn.Module, system: SpinSystem, problem: ExactProblem | MonteCarloProblem, params: list,
                     masks: list[Mask], *, steps: int, settings: VMCSettings, energy_and_grad: EnergyAndGrad | None,
                     snapshot_step: int | None = None) -> MaskedTraining:
    """Train each (parameters, mask) pair ``steps`` VMC steps; the energies of the results.

    Args:
        model: the bare Flax module (log ψ of ``sigma_BN``, shape ``(B,)``).
        system: the spin system (its NetKet Hamiltonian and Hilbert space).
        problem: ``ExactProblem.of(system)`` for exact energies, or a ``MonteCarloProblem`` for estimated ones.
        params: K start parameter pytrees; masks: their K masks.
        steps: VMC steps per network (≥ 1).
        settings: optimiser, rate and sampler.
        energy_and_grad: ``make_energy_and_grad(model, problem)`` for an ``ExactProblem``; None for a
            ``MonteCarloProblem``.
        snapshot_step: also return each network's parameters after this many steps.

    Returns:
        ``MaskedTraining`` with leaves stacked over K; ``history_TK`` holds the energy NetKet
        reported at each step (sampled in ``sampled`` mode), in ``problem.unit``.
    """
    if steps < 1 or len(params) != len(masks) or not params:
        raise PhyslensError(f"need steps >= 1 and one mask per parameter set; got {steps}, {len(params)}, {len(masks)}")
    if snapshot_step is not None and not 0 <= snapshot_step <= steps:
        raise PhyslensError(f"snapshot_step {snapshot_step} must be in [0, {steps}]")
    finals, snapshots, history = [], [], []
    for start, mask in zip(params, masks):
        driver = _driver(system, model, start, mask, settings, content_seed(start, mask))
        log = nk.logging.RuntimeLog()
        legs = [steps] if snapshot_step in (None, 0, steps) else [snapshot_step, steps - snapshot_step]
        if snapshot_step == 0:
            snapshots.append(_params_of(driver))
        for leg in legs:
            driver.run(n_iter=leg, out=log, show_progress=False)
            if snapshot_step is not None and driver.step_count == snapshot_step:
                snapshots.append(_params_of(driver))
        history.append(np.real(np.asarray(log.data["Energy"]["Mean"]))[:steps])
        finals.append(_params_of(driver))
    params_K = stack_trees(finals)
    if energy_and_grad is None:
        energy_K, sem_K = problem.energies(model, finals, masks)
        method = problem.method
    else:
        masks_K = stack_trees([m.to_tree(np.float64) for m in masks])
        energy_K, sem_K, method = np.asarray(energy_and_grad(params_K, masks_K)[0]), None, "exact full sum"
    return MaskedTraining(params_K, stack_trees(snapshots) if snapshots else None, energy_K,
                          np.abs(energy_K - problem.e0) / abs(problem.e0), np.stack(history, axis=1), problem.unit,
                          method, sem_K)
