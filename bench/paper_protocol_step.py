"""Seconds per training step of the hidden-unit paper's protocol (``rbm-paper``) per (N, alpha).

Builds the protocol's NetKet objects exactly as a run does (``physlens.quantum.train.make_vstate`` and
``make_driver``: NetKet's RBM, MetropolisLocal with 16 chains and 4,096 samples, Adam 1e-3 on SR with shift
1e-3) on the Heisenberg ring and times ``driver.run`` alone: a run of ``warmup + steps`` steps less one of
``warmup`` steps, both after a first, compiling run, so compilation and set-up cancel. Prints one Markdown row
per pair with the projected time of ``--budget`` steps, and where JAX ran (CPU or an accelerator).

    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" taskset -c 0 \\
        .venv/bin/python bench/paper_protocol_step.py 12:2 16:5 20:5 [--steps 50]
"""

import argparse
import time

import jax

from physlens.quantum.protocols import apply
from physlens.quantum.train import make_driver, make_vstate
from physlens.quantum.training_config import TrainConfig


def seconds_per_step(size: int, alpha: int, steps: int, warmup: int) -> float:
    config = apply("rbm-paper", TrainConfig(system="heisenberg-ring", size=size, alpha=alpha, seed=0, steps=steps))
    system = config.build_system()
    driver = make_driver(system, make_vstate(system, config.build_model(), config), config)
    driver.run(warmup, show_progress=False)
    start = time.perf_counter()
    driver.run(warmup, show_progress=False)
    short = time.perf_counter() - start
    start = time.perf_counter()
    driver.run(warmup + steps, show_progress=False)
    return (time.perf_counter() - start - short) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="*", default=["12:2"], help="N:alpha, e.g. 12:2 (default 12:2)")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--budget", type=int, default=8000, help="steps per model for the projection")
    args = parser.parse_args()
    print(f"JAX {jax.__version__} on {jax.devices()[0].platform}: {jax.devices()[0].device_kind}")
    print(f"| N | α | s/step | {args.budget:,} steps |")
    print("|---|---|---|---|")
    for pair in args.pairs:
        size, alpha = (int(part) for part in pair.split(":"))
        t = seconds_per_step(size, alpha, args.steps, args.warmup)
        print(f"| {size} | {alpha} | {t:.3f} | {t * args.budget / 60:.0f} min |")


if __name__ == "__main__":
    main()
