"""Time per full-sum SR step on the 4×4 Heisenberg transformer: NetKet's conjugate-gradient solver against Cholesky.

Loads a finished run of the ``heisenberg-4x4-converged`` preset (d_model 16, 2,672 parameters; its trained
parameters, where conjugate gradients need many iterations) and takes full-sum SR steps over the 12,870 states
of the S^z = 0 sector with each ``sr_solver`` (step size 0.02, diagonal shift 1e-4, the ``heisenberg-4x4-polish``
settings). The first two steps (compilation) are timed apart from the next ``--steps``::

    .venv/bin/python bench/sr_solver.py runs/sae-study/heisenberg-4x4-converged [--steps 5] [--solvers cholesky,cg]
"""

import argparse
import dataclasses
import os
import time

from physlens.quantum import train as training


def seconds_per_step(run_path: str, sr_solver: str, steps: int) -> tuple[float, float]:
    """(seconds of the first two steps, seconds per step after them) of full-sum SR from the run's parameters."""
    run = training.load(run_path)
    config = dataclasses.replace(training.config_of(run), mode="exact", sr_solver=sr_solver, diag_shift=1e-4,
                                 learning_rate=0.02, learning_rate_final=None)
    vstate = training.make_vstate(run.system, run.model, config)
    vstate.variables = run.variables
    driver = training.make_driver(run.system, vstate, config)
    start = time.perf_counter()
    driver.run(2, show_progress=False)
    warm = time.perf_counter()
    driver.run(steps, show_progress=False)
    return warm - start, (time.perf_counter() - warm) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a finished heisenberg-4x4-converged run")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--solvers", default="cholesky,cg", help="comma-separated (cg takes minutes per step here)")
    args = parser.parse_args()
    for solver in args.solvers.split(","):
        first, per_step = seconds_per_step(args.run, solver, args.steps)
        print(f"sr_solver {solver}: {per_step:.1f} s per full-sum SR step (mean of {args.steps}; first two steps "
              f"{first:.1f} s with compilation; load average {os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main()
