"""Symbolic-regression time per penultimate PC of a trained nuclear run.

For each of the leading ``--pcs`` penultimate PCs of RUN (B task, training nuclei), runs the
Operon search of ``physlens.lens.symbolic.fit_symbolic`` with the analysis defaults
(200 generations, population 1000, at most 30 nodes, one thread) and prints its wall
time, RMS and complexity::

    .venv/bin/python bench/symbolic.py runs/nuclear-default [--pcs 4]
"""

import argparse
import os

import jax.numpy as jnp
import numpy as np

from physlens.lens.geometry import pca
from physlens.lens.hooks import Lens
from physlens.lens.symbolic import fit_symbolic
from physlens.runs import Run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--pcs", type=int, default=4)
    args = parser.parse_args()
    run = Run.load(args.run)
    nuclei = run.system.nuclei
    train = nuclei.train.to_numpy()
    x_K3 = np.stack([nuclei.Z, nuclei.N, np.full(len(nuclei), run.model.tasks.index("B"))], axis=1)
    _, cache = Lens(run.model, run.variables).run_with_cache(jnp.asarray(x_K3), ["penultimate"])
    pcs_KF = pca(np.asarray(cache["penultimate"])).projections_BK
    X_K2 = nuclei[["Z", "N"]].to_numpy(float)
    total = 0.0
    for k in range(args.pcs):
        fit = fit_symbolic(X_K2[train], pcs_KF[train, k], ("Z", "N"))
        total += fit.seconds
        print(f"PC{k}: {fit.seconds:.1f} s, RMS {fit.rms:.3g} (std {pcs_KF[train, k].std():.3g}), "
              f"R² {fit.r2:.4f}, complexity {fit.complexity}")
    print(f"mean {total / args.pcs:.1f} s per PC over {int(train.sum())} nuclei "
          f"(load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
