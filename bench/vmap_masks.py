"""K = 8 masked networks trained at once with ``jax.vmap`` against 8 sequential runs, same steps.

4×4 open TFIM at h/J = 3.04438 (65,536 basis states, exact full sums), FFNN with 16
hidden ReLU units and summed output, Adam (lr 0.02). The 8 masks are random masks
of density 0.3 (seeds 0..7) on 8 initialisations. Both arms are compiled first (one
warm-up step each, not timed); then the vmapped run trains all 8 networks for
``--steps`` steps in one call, the ``lax.map`` arm does the same with the K networks
in sequence inside one compiled step, and the sequential arm trains them one after
another (8 calls) for the same steps. Throughput = network-steps per second; the ratio is vmapped /
sequential. The final parameters of the two arms are compared (they must agree).

    .venv/bin/python bench/vmap_masks.py [--steps 100] [--chunk 16384]
"""

import argparse
import time

import jax
import numpy as np

from physlens.lens.mask import Mask, stack_masks
from physlens.lens.pruning import random_mask_like
from physlens.quantum.masked_training import ExactProblem, init_params, make_energy_and_grad, train_masked
from physlens.quantum.models import FFNN
from physlens.quantum.systems import TFIMSquare

K, LR = 8, 0.02


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=2**14)
    args = parser.parse_args()
    problem = ExactProblem.of(TFIMSquare(4, h=3.04438, pbc=False))
    model = FFNN(widths=(16,))
    params_K = init_params(model, problem.n_sites, range(K))
    template = Mask.ones_like(jax.tree_util.tree_map(lambda x: x[0], params_K))
    sparse = template.replace({"layers.0/kernel": np.arange(256).reshape(16, 16) < 77})
    masks = [random_mask_like(sparse, seed=k) for k in range(K)]
    energy_and_grad = make_energy_and_grad(model, problem, args.chunk)
    mapped = make_energy_and_grad(model, problem, args.chunk, batching="map")

    def one(k, steps):
        return train_masked(model, problem, jax.tree_util.tree_map(lambda x: x[k:k + 1], params_K), stack_masks([masks[k]]),
                            steps=steps, learning_rate=LR, chunk=args.chunk, energy_and_grad=energy_and_grad)

    def batched(steps, function=energy_and_grad):
        return train_masked(model, problem, params_K, stack_masks(masks), steps=steps, learning_rate=LR,
                            chunk=args.chunk, energy_and_grad=function)

    one(0, 1), batched(1), batched(1, mapped)
    start = time.perf_counter()
    together = batched(args.steps)
    t_vmap = time.perf_counter() - start
    start = time.perf_counter()
    batched(args.steps, mapped)
    t_map = time.perf_counter() - start
    start = time.perf_counter()
    alone = [one(k, args.steps) for k in range(K)]
    t_seq = time.perf_counter() - start
    diff = max(float(np.max(np.abs(np.asarray(a)[k] - np.asarray(b)[0])))
               for k, run in enumerate(alone)
               for a, b in zip(jax.tree_util.tree_leaves(together.params_K), jax.tree_util.tree_leaves(run.params_K)))
    print(f"4x4 TFIM exact, K={K} masks, {args.steps} Adam steps each, chunk {args.chunk}")
    print(f"vmapped:    {t_vmap:8.2f} s  ({K * args.steps / t_vmap:8.1f} network-steps/s)")
    print(f"lax.map:    {t_map:8.2f} s  ({K * args.steps / t_map:8.1f} network-steps/s)  (one program, K in sequence)")
    print(f"sequential: {t_seq:8.2f} s  ({K * args.steps / t_seq:8.1f} network-steps/s)")
    print(f"throughput ratio vmapped/sequential: {t_seq / t_vmap:.2f}x   (max |Δθ| between arms {diff:.1e})")
    print(f"throughput ratio lax.map/sequential: {t_seq / t_map:.2f}x")
    print(f"final relative errors (vmapped): {np.array2string(together.rel_error_K, precision=2)}")


if __name__ == "__main__":
    main()
