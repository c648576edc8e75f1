"""Speed-up of the Dask executor with 2 workers over 1, on a small hidden-unit study.

The study of the test suite (N = 8, 10; alpha = 2, 3 plus alpha = 1 at N = 10; 2 seeds;
10 models, at most 300 SR steps each) runs from scratch three times, in fresh folders:
the local in-process executor, Dask with 1 worker and Dask with 2 workers. Wall time
includes cluster start-up and every worker's JIT compilation.

    .venv/bin/python bench/study_executors.py
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARGS = ["study", "hidden-units", "--sizes", "8-10", "--alphas", "2-3", "--seeds", "2", "--steps", "300", "--no-progress"]


def timed(extra: list[str]) -> float:
    exe = Path(sys.executable).with_name("physlens")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([str(exe), *ARGS, *extra, "--out", f"{tmp}/study"], check=True, capture_output=True)
        return time.perf_counter() - start


def main() -> None:
    local = timed(["--executor", "local", "--workers", "1"])
    one = timed(["--executor", "dask", "--workers", "1"])
    two = timed(["--executor", "dask", "--workers", "2"])
    print(f"10-model study: local {local:.1f} s, dask 1 worker {one:.1f} s, dask 2 workers {two:.1f} s, "
          f"speed-up 2 vs 1 workers {one / two:.2f}x")


if __name__ == "__main__":
    main()
