"""Wall time of one training step of Barton et al.'s lottery protocol, per network, on this machine.

Times ``physlens.quantum.vmc_masked_training.train_masked_vmc`` (one network, the preset's SR, sampler and
samples) and, for comparison, the batched exact-Adam step of ``physlens.quantum.masked_training`` on the same
network (where the basis fits: not for barton-6x6-a1), for each preset named. Seconds per step: the time of a run of ``warmup + steps`` steps less that of a
run of ``warmup`` steps, both after a first, compiling run (so set-up and the final exact energy cancel). Per level = steps per level × seconds per step; a whole study multiplies by the
networks of every level (the dense level: dense steps; isolated controls: control steps).

    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" taskset -c 0 \\
        .venv/bin/python bench/lottery_barton.py barton-4x4-a8 barton-toric-a8 [--steps 50]
"""

import argparse
import time

import numpy as np

from physlens.lens.lottery import ISOLATED
from physlens.lens.mask import Mask
from physlens.quantum.masked_training import ExactProblem, init_params, make_energy_and_grad, train_masked, unstack_trees
from physlens.quantum.monte_carlo_problem import MonteCarloProblem
from physlens.quantum.vmc_masked_training import train_masked_vmc
from physlens.studies.lottery_config import PRESETS


def seconds_per_step(config, steps: int, warmup: int) -> dict:
    system, model = config.build_system(), config.build_model()
    exact = config.evaluation == "exact"
    problem = (ExactProblem.of(system) if exact else       # beyond the exact basis: no reference needed to time steps
               MonteCarloProblem(system, np.nan, "none (timing only)", samples=8 * config.chains, chains=config.chains))
    energy_and_grad = make_energy_and_grad(model, problem, config.chunk, "map") if exact else None
    params = unstack_trees(init_params(model, problem.n_sites, [0]))
    masks = [Mask.ones_like(params[0])]
    timings = {"adam_exact": np.nan}
    runs = [("sr_sampled", lambda n: train_masked_vmc(model, system, problem, params, masks, steps=n,
                                                      settings=config.vmc_settings(), energy_and_grad=energy_and_grad))]
    if exact:
        runs.append(("adam_exact", lambda n: train_masked(model, problem, init_params(model, problem.n_sites, [0]),
                                                          {"layers.0": {"kernel": np.ones_like(params[0]["layers.0"]["kernel"])[None]}},
                                                          steps=n, learning_rate=1e-3, chunk=config.chunk,
                                                          energy_and_grad=energy_and_grad)))
    for name, run in runs:
        run(warmup)
        start = time.perf_counter()
        run(warmup)
        short = time.perf_counter() - start
        start = time.perf_counter()
        run(warmup + steps)
        timings[name] = (time.perf_counter() - start - short) / steps
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    barton = [name for name in PRESETS if name.startswith("barton")]
    parser.add_argument("presets", nargs="*", default=["barton-4x4-a1"], help=f"any of {barton} (default barton-4x4-a1)")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    unknown = sorted(set(args.presets) - set(barton))
    if unknown:
        parser.error(f"unknown presets {unknown}; allowed: {barton}")
    print("| preset | weights | SR, sampled: s/step | per level | IMP arm, one seed | whole study (all seeds, arms) "
          "| Adam, exact: s/step |")
    print("|---|---|---|---|---|---|---|")
    for name in args.presets:
        config = PRESETS[name]
        t = seconds_per_step(config, args.steps, args.warmup)
        isolated = [arm for arm in config.controls if arm in ISOLATED]
        iterative = 1 + ("random_prune" in config.controls)
        per_seed = (config.level0_steps + config.rounds * config.steps * iterative
                    + len(config.control_levels) * len(isolated) * config.control_steps)
        imp_h = t["sr_sampled"] * (config.level0_steps + config.rounds * config.steps) / 3600
        total_h = t["sr_sampled"] * per_seed * len(config.seeds) / 3600
        adam = "—" if np.isnan(t["adam_exact"]) else f"{t['adam_exact']:.3f}"
        print(f"| {name} | {config.prunable_weights} | {t['sr_sampled']:.3f} | {t['sr_sampled'] * config.steps:.0f} s "
              f"| {imp_h:.1f} h | {total_h:.0f} h | {adam} |")


if __name__ == "__main__":
    main()
