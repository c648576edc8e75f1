"""A 50-point SAE steering curve on the 4×4 Heisenberg model, exactly, in one batched pass.

12,870-state S^z = 0 basis; the transformer NQS of ``--run`` (default the study's trained
run) with the SAE of ``--sae`` at ``resid.final``, or, where either is missing, a fresh
transformer (d_model 16, 1 layer, 2 heads, 2×2 patches) and a freshly initialised TopK SAE
(64 latents, k = 4). One ``steering_curve`` call evaluates the 50 scaled versions of one
feature plus the unsteered reference (energy and every diagonal observable) through
``ExactEvaluator``; the first call's extra time is reported as compile time, then the
median of ``--repeats`` calls. The goal is under 5 s per curve.

    .venv/bin/python bench/steering_curve.py [--run runs/sae-study/heisenberg-4x4]
        [--sae docs/studies/sae-steering/heisenberg-4x4/sae] [--repeats 3]
"""

import argparse
import statistics
import time
from pathlib import Path

import jax
import numpy as np

from physlens.lens.evaluate import ExactEvaluator
from physlens.lens.hooks import Lens
from physlens.lens.sae import TopKConfig, init_sae, load_sae
from physlens.lens.steering import SAELogPsi, steering_curve
from physlens.quantum.config_observables import observable_table
from physlens.quantum.models import build_model
from physlens.quantum.systems import HeisenbergSquare
from physlens.runs import Run

HOOK, N_POINTS = "resid.final", 50


def model_and_sae(run_dir: Path, sae_dir: Path, basis_SN: np.ndarray):
    """The trained run and its SAE when both exist, else a fresh transformer and SAE; and a description."""
    if (run_dir / "config.toml").is_file() and (sae_dir / "cfg.json").is_file():
        run = Run.load(run_dir)
        return run.system, run.model, run.variables, load_sae(sae_dir), f"trained run {run_dir}, SAE {sae_dir}"
    system = HeisenbergSquare(L=4)
    model = build_model("transformer", lattice_shape=(4, 4), patch_size=2, d_model=16, n_layers=1, n_heads=2)
    variables = model.init(jax.random.PRNGKey(0), basis_SN[:1])
    _, cache = Lens(model, variables).run_with_cache(basis_SN[:4096], [HOOK])
    acts_ND = np.asarray(cache[HOOK]).reshape(-1, 16)
    sae = init_sae(TopKConfig(d_in=16, d_sae=64, k=4), acts_ND, jax.random.PRNGKey(1))
    return system, model, variables, sae, "fresh transformer and SAE (no trained run found)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/sae-study/heisenberg-4x4"))
    parser.add_argument("--sae", type=Path, default=Path("docs/studies/sae-steering/heisenberg-4x4/sae"))
    parser.add_argument("--feature", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    basis_SN = np.asarray(HeisenbergSquare(L=4).hilbert.all_states())
    system, model, variables, sae, what = model_and_sae(args.run, args.sae, basis_SN)
    tables = {name: values for name, values in observable_table(system, basis_SN).values.items()}
    start = time.perf_counter()
    evaluator = ExactEvaluator(SAELogPsi(Lens(model, variables), sae, HOOK), basis_SN, system.sparse_hamiltonian(),
                               tables, unit=system.energy_unit)
    setup = time.perf_counter() - start
    strengths = np.linspace(0.0, 3.0, N_POINTS)
    times = []
    for _ in range(args.repeats + 1):
        start = time.perf_counter()
        curve = steering_curve(evaluator, HOOK, args.feature, strengths)
        times.append(time.perf_counter() - start)
    steady = statistics.median(times[1:])
    print(f"4x4 Heisenberg, {len(basis_SN)} states, {what}")
    print(f"{N_POINTS}-point steering curve of feature {args.feature} at {HOOK} (+ reference), "
          f"{len(tables)} observables, exact, one batched pass")
    print(f"evaluator setup {setup:.2f} s; first call (with compile) {times[0]:.2f} s; "
          f"median of {args.repeats} further calls {steady:.2f} s  (goal < 5 s)")
    print(f"E(s=1) = {curve.energy_reference:.6f} {curve.unit}; max |ΔE|/|E| over s in [0, 3] = "
          f"{curve.max_relative_deviation:.3e}")
    print(f"jax {jax.__version__}, devices {jax.devices()}")


if __name__ == "__main__":
    main()
