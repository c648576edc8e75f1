"""All-unit single-unit ablation, exactly: physlens ExactEvaluator against a loop of NetKet FullSumStates.

20-site Heisenberg ring (S^z = 0 sector, 184,756 basis states), RBM alpha = 5
(M = 100 hidden units) with random parameters (std 0.05, seed 0). physlens
evaluates the 100 ablations in one batched ``ExactEvaluator.evaluate`` call; the
first call's extra time is reported as compile time, then the median of
``--repeats`` calls. NetKet builds one ``FullSumState`` per unit with that unit's
kernel column and bias zeroed and calls ``expect(H)``; a warm-up unit is run
first (JIT), then ``--netket-units`` units are timed and the mean is extrapolated
to 100 units. The energies of the timed units are compared between the two.

    .venv/bin/python bench/ablation_exact.py [--repeats 3] [--netket-units 3]
"""

import argparse
import statistics
import time

import jax
import netket as nk
import numpy as np

from physlens.lens.evaluate import ExactEvaluator
from physlens.lens.hooks import Lens
from physlens.lens.interventions import LensLogPsi, single_unit_ablations
from physlens.quantum.models import RBM
from physlens.quantum.systems import HeisenbergRing

N_SITES, ALPHA, HOOK = 20, 5, "hidden.post"


def random_variables(model, sigma_SN, std=0.05):
    variables = model.init(jax.random.PRNGKey(0), sigma_SN[:1])
    leaves, tree = jax.tree.flatten(variables)
    keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
    return jax.tree.unflatten(tree, [std * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])


def netket_ablation(system, model, variables, unit: int) -> float:
    params = jax.tree.map(lambda x: x, variables)
    params["params"]["hidden"]["kernel"] = params["params"]["hidden"]["kernel"].at[:, unit].set(0.0)
    params["params"]["hidden"]["bias"] = params["params"]["hidden"]["bias"].at[unit].set(0.0)
    vstate = nk.vqs.FullSumState(system.hilbert, model, variables=params)
    return float(np.real(vstate.expect(system.hamiltonian).mean))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--netket-units", type=int, default=3)
    args = parser.parse_args()

    t = time.perf_counter()
    system = HeisenbergRing(N_SITES)
    sigma_SN = np.asarray(system.hilbert.all_states())
    h_sparse = system.hamiltonian.to_sparse()
    print(f"setup (basis {sigma_SN.shape[0]} states, sparse H nnz {h_sparse.nnz}): {time.perf_counter() - t:.1f} s", flush=True)

    model = RBM(alpha=ALPHA)
    variables = random_variables(model, sigma_SN)
    t = time.perf_counter()
    evaluator = ExactEvaluator(LensLogPsi(Lens(model, variables)), sigma_SN, h_sparse, unit="J")
    n_units = evaluator.width(HOOK)
    ablations = single_unit_ablations(HOOK, n_units)
    print(f"ExactEvaluator construction: {time.perf_counter() - t:.1f} s", flush=True)

    t = time.perf_counter()
    energies_K = evaluator.evaluate(ablations).energies_K
    first = time.perf_counter() - t
    runs = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        evaluator.evaluate(ablations)
        runs.append(time.perf_counter() - t)
    ours = statistics.median(runs)
    print(f"physlens, {n_units} ablations in one call: {ours:.2f} s after compile "
          f"(runs {', '.join(f'{r:.2f}' for r in runs)}); compile ~{first - ours:.1f} s", flush=True)

    netket_ablation(system, model, variables, n_units - 1)
    units = list(range(args.netket_units))
    times, reference = [], []
    for unit in units:
        t = time.perf_counter()
        reference.append(netket_ablation(system, model, variables, unit))
        times.append(time.perf_counter() - t)
    per_unit = statistics.mean(times)
    netket = per_unit * n_units
    print(f"NetKet FullSumState loop: {per_unit:.2f} s per unit (mean of {len(units)} timed units after a warm-up), "
          f"extrapolated to {n_units} units: {netket:.1f} s", flush=True)
    print(f"max |E_physlens - E_netket| over the timed units: {np.abs(energies_K[units] - reference).max():.2e} J")
    print(f"speed-up: {netket / ours:.0f}x (goal: physlens under 2 s and >= 100x)")


if __name__ == "__main__":
    main()
