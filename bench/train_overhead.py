"""Overhead of physlens training against a plain NetKet script with identical settings.

12-site Heisenberg ring, RBM alpha = 2, 4096 samples, 16 chains, 300 SR steps
(sgd 0.05, diag shift 0.01), sampled mode. Each measurement runs in a fresh Python
process (its own JIT compilation), physlens and plain alternating, and times the
whole training call; the exact reference is computed once beforehand (it is cached).

    .venv/bin/python bench/train_overhead.py [--repeats 3]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile

PLAIN = """
import time, netket as nk, optax
t = time.perf_counter()
graph = nk.graph.Chain(12, pbc=True)
hilbert = nk.hilbert.Spin(0.5, 12, total_sz=0)
ham = nk.operator.Heisenberg(hilbert, graph, J=0.25, sign_rule=True)
sampler = nk.sampler.MetropolisExchange(hilbert, graph=graph, n_chains=16)
vs = nk.vqs.MCState(sampler, nk.models.RBM(alpha=2, param_dtype=float), n_samples=4096, seed=0, sampler_seed=1)
driver = nk.driver.VMC(ham, optax.sgd(0.05), variational_state=vs, preconditioner=nk.optimizer.SR(diag_shift=0.01))
driver.run(300, show_progress=False)
print(time.perf_counter() - t)
"""

PHYSLENS = """
import sys, time
from physlens.quantum.train import TrainConfig, train
cfg = TrainConfig(size=12, alpha=2.0, mode="sampled", samples=4096, chains=16, steps=300, tol=0.0)
t = time.perf_counter()
train(cfg, sys.argv[1], progress=False)
print(time.perf_counter() - t)
"""


def timed(script: str, *args: str) -> float:
    out = subprocess.run([sys.executable, "-c", script, *args], check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-c", "from physlens.quantum.systems import HeisenbergRing; HeisenbergRing(12).exact()"], check=True)
    plain, ours = [], []
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            ours.append(timed(PHYSLENS, f"{tmp}/run"))
        plain.append(timed(PLAIN))
        print(f"repeat {i}: physlens {ours[-1]:.1f} s, plain NetKet {plain[-1]:.1f} s", flush=True)
    ratio = statistics.median(ours) / statistics.median(plain)
    print(f"median wall time: physlens {statistics.median(ours):.1f} s, plain NetKet {statistics.median(plain):.1f} s, "
          f"ratio {ratio:.3f} (goal <= 1.05)")


if __name__ == "__main__":
    main()
