"""Wall time of the default nuclear regressor to its final held-out binding-energy RMS.

Trains ``NuclearTrainConfig()`` (width 64, depth 2, all eight tasks with the total B weighted
100, 40,000 AdamW steps of 256 rows, 80 % of the 2,457 experimental nuclei with Z, N ≥ 8)
into a temporary folder,
compilation included, and prints the wall time, the held-out B RMS and the SEMF's::

    .venv/bin/python bench/nuclear_train.py [--seed 0]
"""

import argparse
import os
import tempfile
import time

from physlens.nuclear.evaluate import evaluate
from physlens.nuclear.train import NuclearTrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        run = train(NuclearTrainConfig(seed=args.seed), os.path.join(folder, "run"), progress=False)
        seconds = time.perf_counter() - start
        result = evaluate(run)
    print(f"default nuclear model, seed {args.seed}: {seconds:.1f} s wall (load average {os.getloadavg()[0]:.1f}); "
          f"held-out B RMS {result.rms_model:.3f} MeV, SEMF {result.rms_semf:.3f} MeV ({len(result.Z)} nuclei)")


if __name__ == "__main__":
    main()
