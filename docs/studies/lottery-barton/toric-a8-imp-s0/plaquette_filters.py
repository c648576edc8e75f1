"""Which IMP tickets of the toric-code study hold the hand-built plaquette solution's filters?

For the levels named on the command line, counts the live hidden units whose surviving weights are exactly the
four edges of one plaquette with an odd number of negative signs (the filters of
``physlens.quantum.plaquette_network``), the distinct (plaquette, sign pattern) pairs among them (the exact
solution has all 72), and their mean |w|. Writes ``plaquette_filters.json`` beside this script.

    .venv/bin/python docs/studies/lottery-barton/toric-a8-imp-s0/plaquette_filters.py 13 17 19 21
"""

import json
import sys
from pathlib import Path

import jax
import numpy as np

from physlens.lens.lottery import level_params
from physlens.lens.mask import Mask
from physlens.quantum.filters import stabiliser_overlap
from physlens.studies.lottery import PRESETS

HERE = Path(__file__).parent
config = PRESETS["barton-toric-a8"]
system = config.build_system()
like = config.build_model().init(jax.random.PRNGKey(0), np.ones((1, 18)))["params"]
rows = []
for level in map(int, sys.argv[1:]):
    kernel = np.asarray(level_params(HERE / "levels", level, "imp", 0, like)["layers.0"]["kernel"])
    keep = Mask.load(HERE / "levels" / f"level_{level:02d}" / "imp_seed0.mask.npz").leaves()["layers.0/kernel"]
    frame = stabiliser_overlap(kernel, keep, system).to_frame()
    live = frame[keep.sum(axis=0) > 0]
    odd = live[(live.kind == "plaquette") & (live.plaquette_overlap == 1.0) & (live.sign_product == -1)]
    patterns = {(int(p), tuple(np.sign(kernel[system.plaquettes[int(p)], int(j)]).astype(int)))
                for j, p in zip(odd.unit, odd.best_plaquette)}
    rows.append({"level": level, "rho": float(keep.sum() / 18), "kept_weights": int(keep.sum()), "live_units": len(live),
                 "odd_plaquette_filters": len(odd), "distinct_patterns": len(patterns), "of": 72,
                 "plaquettes_covered": int(odd.best_plaquette.nunique()),
                 "mean_abs_w": float(np.abs(kernel[:, odd.unit][keep[:, odd.unit]]).mean()) if len(odd) else 0.0})
    print(rows[-1])
(HERE / "plaquette_filters.json").write_text(json.dumps(rows, indent=1))
