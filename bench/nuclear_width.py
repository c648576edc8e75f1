"""Training time per step of the nuclear regressor against width, and the paper preset's projected time.

    .venv/bin/python bench/nuclear_width.py [--widths 64,128,256,512,2048] [--steps 250]

For each width: the default preset (minibatches of 256 rows) timed over ``--steps`` jitted
steps after a warm-up chunk; then the paper preset (width 2048, full batch, one step per
epoch) timed on minibatches of ``--paper-rows`` rows and projected to its full batch (time
linear in rows) and its 200,000 epochs: the full batch of ~20,000 rows needs tens of GiB as
float64 activations on this CPU. Prints one line per
setting; the results with the machine's load go in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp

from physlens.nuclear.targets import load_data
from physlens.nuclear.train import _make_chunk, build_model
from physlens.nuclear.training_config import make_optimizer, preset


def seconds_per_step(cfg, steps: int) -> float:
    """Wall seconds per optimiser step of ``cfg`` (jit compile excluded)."""
    data = load_data(cfg)
    model, optimizer = build_model(cfg, data), make_optimizer(cfg)
    variables = model.init(jax.random.PRNGKey(cfg.seed), jnp.asarray(data.x_R3[:1]))
    state = (variables, optimizer.init(variables), jnp.asarray(0, dtype=jnp.int64))
    rows, chunk = _make_chunk(model, optimizer, cfg, data)
    state, loss = chunk(state, rows, steps)
    loss.block_until_ready()
    start = time.perf_counter()
    state, loss = chunk(state, rows, steps)
    loss.block_until_ready()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="64,128,256,512,2048")
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--paper-steps", type=int, default=3)
    parser.add_argument("--paper-rows", type=int, default=512)
    args = parser.parse_args()
    print(f"device {jax.devices()[0].platform}, load {os.getloadavg()[0]:.2f}")
    for width in (int(w) for w in args.widths.split(",")):
        per_step = seconds_per_step(preset("default", width=width, steps=10 * args.steps), args.steps)
        print(f"default preset, width {width:5d}: {1e3 * per_step:8.2f} ms/step, 10,000 steps {per_step * 1e4:7.0f} s, "
              f"40,000 steps {per_step * 4e4:7.0f} s")
    paper = preset("paper")
    rows = int(load_data(paper).train_R.sum())
    per_step = seconds_per_step(preset("paper", steps=10 * args.paper_steps, batch_size=args.paper_rows),
                                args.paper_steps) * rows / args.paper_rows
    print(f"paper preset (width {paper.width}, full batch of {rows:,} rows): {per_step:.1f} s/step projected, "
          f"{paper.steps:,} steps {per_step * paper.steps / 86400:.0f} days")


if __name__ == "__main__":
    main()
