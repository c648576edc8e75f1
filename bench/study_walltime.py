"""Wall time of the hidden-unit study, from the per-model timings it stores.

Each model's train-and-analyse time is recorded in ``timings/`` as it finishes
(one worker, in-process; a model resumed after an interruption counts only its last
sitting). Prints the total, the mean per (N, alpha), and, where models are missing,
a projection of the full study from those means.

    .venv/bin/python bench/study_walltime.py [docs/studies/hidden-units]
"""

import json
import sys
from pathlib import Path

import pandas as pd


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/studies/hidden-units")
    timings = pd.read_parquet(out / "timings.parquet")
    config = json.loads((out / "study.json").read_text())["config"]
    pairs = [(n, a) for n in config["sizes"] for a in config["alphas"]] + [tuple(p) for p in config["extra"]]
    per_pair = timings.groupby(["N", "alpha"])["seconds"].agg(["count", "mean", "sum"])
    print(per_pair.round(1).to_string())
    planned = {p: config["seeds"] for p in dict.fromkeys(pairs)}
    measured = timings["seconds"].sum()
    missing = sum(max(planned[p] - int(per_pair["count"].get(p, 0)), 0) * per_pair["mean"].get(p, float("nan"))
                  for p in planned)
    print(f"models timed: {len(timings)} of {sum(planned.values())}; measured {measured / 3600:.2f} h; "
          f"projected full study {(measured + missing) / 3600:.2f} h (one worker)")


if __name__ == "__main__":
    main()
