"""TDVP step time: full sum (``FullSumState``) against Monte Carlo (``MCState``), TFIM chain quench h = 0.5 → 1.0.

One RK4 step of ``netket.experimental.TDVP`` (four solves of S θ̇ = −i F, dense holomorphic QGT, ``pinv_smooth``)
as ``physlens.quantum.dynamics`` takes it, on a complex NetKet RBM with random parameters (std 0.05, seed 0).
Each setting runs one warm-up step (JIT), then ``--repeats`` timed steps; the median is printed. The
sampled state draws ``--samples`` Metropolis samples (16 chains, single flips) at every solve.

    .venv/bin/python bench/tdvp_step.py [--sizes 12,16] [--alpha 2] [--samples 1024,4096] [--repeats 3]
"""

import argparse
import statistics
import time

import jax
import netket as nk

import physlens  # noqa: F401  (float64)
from physlens.quantum.dynamics import EvolveConfig, advance_interval
from physlens.quantum.quench import Quench


def random_state(vstate, std=0.05):
    leaves, tree = jax.tree.flatten(vstate.parameters)
    keys = jax.random.split(jax.random.PRNGKey(0), len(leaves))
    vstate.parameters = jax.tree.unflatten(tree, [std * (jax.random.normal(k, x.shape) + 1j * jax.random.normal(
        jax.random.fold_in(k, 1), x.shape)) for k, x in zip(keys, leaves)])


def step_seconds(n_sites: int, alpha: float, mode: str, samples: int, repeats: int) -> float:
    quench = Quench.tfim(n_sites, h_before=0.5, h_after=1.0)
    config = EvolveConfig(quench=quench.params(), model=f"netket.RBM:alpha={alpha},param_dtype=complex", t_end=0.01,
                          save_dt=0.01, dt=0.01, mode=mode, samples=samples or 1024)
    model = nk.models.RBM(alpha=alpha, param_dtype=complex)
    system = quench.after
    if mode == "exact":
        vstate = nk.vqs.FullSumState(system.hilbert, model, seed=0)
    else:
        vstate = nk.vqs.MCState(system.metropolis_sampler(16), model, n_samples=samples, seed=0, sampler_seed=1)
    random_state(vstate)
    advance_interval(config, system, vstate)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        advance_interval(config, system, vstate)
        jax.block_until_ready(vstate.parameters)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="12")
    parser.add_argument("--alpha", type=float, default=2.0)
    parser.add_argument("--samples", default="1024,4096")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"TDVP RK4 step, TFIM chain h=0.5→1.0, complex RBM alpha={args.alpha:g}, median of {args.repeats}")
    for n_sites in (int(s) for s in args.sizes.split(",")):
        settings = [("exact", 0)] + [("sampled", int(s)) for s in args.samples.split(",")]
        for mode, samples in settings:
            seconds = step_seconds(n_sites, args.alpha, mode, samples, args.repeats)
            what = f"full sum over {2 ** n_sites} states" if mode == "exact" else f"{samples} samples"
            print(f"N={n_sites:3d}  {what:28s}  {seconds * 1e3:9.1f} ms/step")


if __name__ == "__main__":
    main()
