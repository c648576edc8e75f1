"""All-unit ablation of a NetKet RBM opened with ``physlens.open``, against physlens's own RBM and the floor.

20-site Heisenberg ring (S^z = 0 sector, 184,756 basis states), RBM alpha = 5 (M = 100
hidden units), the same random parameters (std 0.05) in both parameterisations:
``nk.models.RBM`` (sites ``Dense``, aliases ``hidden.pre``/``hidden.post`` from the model
registry) and ``physlens.quantum.models.RBM``. Each evaluator computes the 100
single-unit ablations at ``hidden.post`` in one batched call; the median of
``--repeats`` calls after a compiling call. The floor is what no exact method can beat:
one sparse product H Ψ for the K = 100 ablated states (scipy, Ψ of shape (S, K)) plus
one forward pass of the model over the basis (jitted).

    .venv/bin/python bench/ablation_opened.py [--repeats 5]
"""

import argparse
import statistics
import time

import jax
import netket as nk
import numpy as np

import physlens as pl
from physlens.lens.interventions import single_unit_ablations
from physlens.quantum.models import RBM
from physlens.quantum.systems import HeisenbergRing

N_SITES, ALPHA, HOOK, K = 20, 5, "hidden.post", 100


def timed(fn, repeats: int) -> tuple[float, float]:
    """(first call, median of ``repeats`` further calls) in seconds."""
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return first, statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    ring = HeisenbergRing(N_SITES)
    sigma_SN = np.asarray(ring.hilbert.all_states())
    h_sparse = ring.sparse_hamiltonian()
    rng = np.random.default_rng(0)
    kernel_NM, bias_M, visible_N = (0.05 * rng.normal(size=s) for s in ((N_SITES, K), (K,), (N_SITES,)))
    netket = pl.open(nk.models.RBM(alpha=ALPHA), system=ring, variables={"params": {
        "Dense": {"kernel": kernel_NM, "bias": bias_M}, "visible_bias": visible_N}})
    own = pl.open(RBM(alpha=ALPHA), system=ring, variables={"params": {
        "hidden": {"kernel": kernel_NM, "bias": bias_M}, "visible_bias": visible_N}})
    ablations = single_unit_ablations(HOOK, K)

    results = {}
    for name, opened in (("physlens RBM", own), ("NetKet RBM via pl.open", netket)):
        evaluator = opened.evaluator(exact=True)
        first, median = timed(lambda: evaluator.evaluate(ablations), args.repeats)
        results[name] = (median, evaluator.evaluate(ablations).energies_K)
        print(f"{name}: {K} ablations in one call {median:.3f} s (first call {first:.2f} s)", flush=True)
    (t_own, e_own), (t_nk, e_nk) = results.values()
    print(f"ratio NetKet / physlens: {t_nk / t_own:.3f} (goal <= 1.05); max |ΔE| {np.abs(e_own - e_nk).max():.1e} J")

    psi_SK = rng.normal(size=(sigma_SN.shape[0], K))
    _, t_product = timed(lambda: h_sparse @ psi_SK, args.repeats)
    forward = jax.jit(own.model.apply)
    _, t_forward = timed(lambda: forward(own.variables, sigma_SN).block_until_ready(), args.repeats)
    floor = t_product + t_forward
    print(f"floor: sparse H Ψ for K = {K} {t_product:.3f} s + one forward pass {t_forward:.3f} s = {floor:.3f} s; "
          f"physlens / floor = {t_own / floor:.2f} (goal <= 2)")


if __name__ == "__main__":
    main()
