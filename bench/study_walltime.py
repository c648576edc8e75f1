"""Wall time of the hidden-unit study per model, and the projected time of a whole grid.

A model's time is its training and analysis over every sitting, read from ``runs/<model>/status.json``
(``seconds``) where the run folder is kept, else from ``timings.parquet`` (the last sitting only: the
models trained whole in one sitting). Prints, per (N, alpha): models timed, mean minutes per model, mean
seconds per step (a Markdown table); then the measured total and the projected time of the grid
``--sizes`` x alphas x ``--seeds`` on one worker. A cell with no timed model is projected from its alpha:
seconds per step from a power law in N fitted to the timed sizes (least squares in log-log), times the mean
steps per model of the nearest timed size. The timings mix sittings pinned to one core and sittings beside
other work, so the projection is good to tens of per cent.

    .venv/bin/python bench/study_walltime.py docs/studies/hidden-units-paper --sizes 8,10,12,14,16,18,20 --seeds 10
"""

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from physlens.studies.hidden_units import model_name


def model_times(out: Path) -> pd.DataFrame:
    """One row per timed model: N, alpha, seed, seconds (all sittings where known), steps."""
    timings = pd.read_parquet(out / "timings.parquet")
    steps = pd.read_parquet(out / "models.parquet")[["N", "alpha", "seed", "steps"]]
    frame = timings.merge(steps, on=["N", "alpha", "seed"], how="inner")
    for i, row in frame.iterrows():
        status = out / "runs" / model_name(row.N, row.alpha, row.seed) / "status.json"
        if status.exists():
            frame.loc[i, "seconds"] = json.loads(status.read_text()).get("seconds", row.seconds)
    return frame


def projected_seconds(per_cell: pd.DataFrame, n: int, alpha: int) -> float:
    """Seconds per model of an untimed (n, alpha) from the timed sizes of the same alpha."""
    cells = per_cell.xs(alpha, level="alpha")
    sizes = cells.index.to_numpy(dtype=float)
    if len(sizes) == 1:
        rate = cells["s_per_step"].iloc[0]
    else:
        slope, intercept = np.polyfit(np.log(sizes), np.log(cells["s_per_step"].to_numpy()), 1)
        rate = np.exp(intercept + slope * np.log(n))
    nearest = sizes[np.argmin(np.abs(sizes - n))]
    return float(rate * cells.loc[int(nearest), "steps"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="docs/studies/hidden-units")
    parser.add_argument("--sizes", help="the grid's ring sizes (default: the study's)")
    parser.add_argument("--seeds", type=int, help="seeds per (N, alpha) in the grid (default: the study's)")
    args = parser.parse_args()
    out = Path(args.out)
    config = json.loads((out / "study.json").read_text())["config"]
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else sorted(config["sizes"])
    seeds = args.seeds or config["seeds"]
    frame = model_times(out)
    per_cell = frame.groupby(["N", "alpha"]).agg(models=("seconds", "size"), seconds=("seconds", "mean"),
                                                 steps=("steps", "mean"), total=("seconds", "sum"),
                                                 total_steps=("steps", "sum"))
    per_cell["s_per_step"] = per_cell["total"] / per_cell["total_steps"]
    alphas = config["alphas"]
    print("minutes per model (seconds per step; models timed)\n")
    print("| N | " + " | ".join(f"alpha = {a}" for a in alphas) + " |\n|---|" + "---|" * len(alphas))
    for n in sorted({n for n, _ in per_cell.index}):
        cells = [f"{per_cell.loc[(n, a), 'seconds'] / 60:.1f} ({per_cell.loc[(n, a), 's_per_step']:.2f} s; "
                 f"{per_cell.loc[(n, a), 'models']})" if (n, a) in per_cell.index else "-" for a in alphas]
        print(f"| {n} | " + " | ".join(cells) + " |")
    remaining = 0.0
    for n in sizes:
        for alpha in alphas:
            timed = int(per_cell["models"].get((n, alpha), 0))
            each = (per_cell.loc[(n, alpha), "seconds"] if timed else projected_seconds(per_cell, n, alpha))
            remaining += max(seeds - timed, 0) * each
    measured = frame["seconds"].sum()
    grid = len(sizes) * len(alphas) * seeds
    print(f"models timed: {len(frame)}; measured {measured / 3600:.1f} h; grid N = {','.join(map(str, sizes))} x "
          f"alpha = {','.join(map(str, alphas))} x {seeds} seeds ({grid} models): "
          f"{remaining / 3600:.1f} h still to run, {(measured + remaining) / 3600:.1f} h in all (one worker)")


if __name__ == "__main__":
    main()
