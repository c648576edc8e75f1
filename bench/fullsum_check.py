"""Seconds per exact energy check of a training run (``physlens.quantum.final_state.FullSumEnergy``) per (N, alpha).

The check a sampled run makes every ``log_every`` steps under the ``rbm-paper`` protocol: log ψ of NetKet's RBM
over all 2^N states of the Heisenberg ring and one sparse matrix–vector product. Times the median of ``--repeat``
checks after a first, compiling one; the sparse Hamiltonian, built once per run (or read from physlens's
disk cache, where an earlier run or reference left it), is timed apart. Prints one
Markdown row per pair.

    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" taskset -c 0 \\
        .venv/bin/python bench/fullsum_check.py 16:3 18:3 20:3
"""

import argparse
import statistics
import time

import jax

from physlens.quantum.final_state import FullSumEnergy
from physlens.quantum.protocols import apply, check_max_states
from physlens.quantum.training_config import TrainConfig


def check_seconds(size: int, alpha: int, repeat: int) -> tuple[float, float]:
    """(seconds to build the sparse Hamiltonian, median seconds per check) at ``size`` sites and ``alpha``."""
    config = apply("rbm-paper", TrainConfig(system="heisenberg-ring", size=size, alpha=alpha, seed=0))
    system, model = config.build_system(), config.build_model()
    fullsum = FullSumEnergy(system, model, check_max_states(config))
    variables = model.init(jax.random.PRNGKey(0), fullsum.basis[:1])
    start = time.perf_counter()
    system.sparse_hamiltonian()
    build = time.perf_counter() - start
    fullsum(variables)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fullsum(variables)
        times.append(time.perf_counter() - start)
    return build, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="*", default=["20:3"], help="N:alpha, e.g. 20:3 (default 20:3)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"JAX {jax.__version__} on {jax.devices()[0].platform}: {jax.devices()[0].device_kind}")
    print("| N | α | states | sparse H (s, once) | s/check |")
    print("|---|---|---|---|---|")
    for pair in args.pairs:
        size, alpha = (int(part) for part in pair.split(":"))
        build, check = check_seconds(size, alpha, args.repeat)
        print(f"| {size} | {alpha} | {2**size:,} | {build:.1f} | {check:.2f} |")


if __name__ == "__main__":
    main()
