"""Is the toric code's exact sparse network findable, and can the optimiser use it? Training from the plaquette mask.

Barton et al.'s Fig. 4 marks ρ = 16 weights per spin on the 3×3 toric code, where 72
odd-parity plaquette filters (``physlens.quantum.plaquette_network``, 288 weights)
represent the ground state as their weights grow. IMP finding that mask and the optimiser
being able to use it are two questions. This study trains, under the masked protocol of a
lottery study (``StudyConfig``, e.g. the preset ``barton-toric-a8``: 144 hidden units, SR,
star-flip sampler), networks on the plaquette mask (the first 72 units; the others pruned):

- ``exact-w``: from the hand-built network with weight w: does training keep it exact?
- ``random``: from the preset's random initialisation of each seed restricted to the mask:
  does training find the exact state when it is handed the right connections?

Every energy is an exact full sum over the 2^18 states.

Usage::

    frame = run_plaquette_check(StudyConfig.preset("barton-toric-a8"), weights=(0.5, 1.0), steps=2000)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.lens.mask import Mask
from physlens.quantum.masked_training import (ExactProblem, init_params, make_energy_and_grad, stack_trees,
                                              unstack_trees)
from physlens.quantum.plaquette_network import plaquette_kernel
from physlens.quantum.systems import ToricCode
from physlens.quantum.vmc_masked_training import train_masked_vmc

if TYPE_CHECKING:
    from physlens.studies.lottery_config import StudyConfig


def plaquette_start(config: StudyConfig, weight: float) -> tuple[dict, Mask]:
    """Parameters of ``config``'s FFNN holding the plaquette network with ``weight`` in its first 8L² units, and
    the mask that keeps exactly those 32 L² weights."""
    system = config.build_system()
    kernel = plaquette_kernel(system, weight)
    width = config.widths[0]
    if len(config.widths) != 1 or config.use_bias or width < kernel.shape[1]:
        raise PhyslensError(f"need one hidden layer without biases of at least {kernel.shape[1]} units; got widths "
                            f"{config.widths}, use_bias {config.use_bias}")
    full = np.zeros((system.hilbert.size, width))
    full[:, :kernel.shape[1]] = kernel
    params = {"layers.0": {"kernel": full}}
    return params, Mask.ones_like(params).replace({"layers.0/kernel": full != 0})


def run_plaquette_check(config: StudyConfig, weights: tuple[float, ...] = (0.5, 1.0),
                        steps: int = 2000) -> pd.DataFrame:
    """Train from the hand-built network at each weight and from each seed's random start on the plaquette mask.

    Returns one row per network: ``start``, ``seed``, ``kept`` weights, exact ``energy_before`` and ``energy``
    (in the system's unit), ``rel_error_before`` and ``rel_error``, ``steps``, ``training``.
    """
    system = config.build_system()
    if not isinstance(system, ToricCode):
        raise PhyslensError(f"the plaquette check is for the toric code; got {system.kind}")
    model, problem = config.build_model(), ExactProblem.of(system)
    energy_and_grad = make_energy_and_grad(model, problem, config.chunk, "map")
    hand_built = [plaquette_start(config, weight) for weight in weights]
    mask = plaquette_start(config, 1.0)[1]
    random_K = init_params(model, problem.n_sites, config.seeds)
    starts = [params for params, _ in hand_built] + [mask.apply(unstack_trees(random_K)[k]) for k in range(len(config.seeds))]
    masks = [m for _, m in hand_built] + [mask] * len(config.seeds)
    labels = [(f"exact-w{weight:g}", None) for weight in weights] + [("random", seed) for seed in config.seeds]
    before = np.asarray(energy_and_grad(stack_trees(starts), stack_trees([m.to_tree() for m in masks]))[0])
    result = train_masked_vmc(model, system, problem, starts, masks, steps=steps, settings=config.vmc_settings(),
                              energy_and_grad=energy_and_grad)
    return pd.DataFrame({"start": [s for s, _ in labels], "seed": [s for _, s in labels],
                         "kept": [m.kept for m in masks], "energy_before": before, "energy": result.energy_K,
                         "rel_error_before": np.abs(before - problem.e0) / abs(problem.e0),
                         "rel_error": result.rel_error_K, "steps": steps, "training": config.training_method})
