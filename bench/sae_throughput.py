"""Throughput of SAE training (and encoding) per architecture: activation vectors per second.

A ReLU-L1, a TopK (k = 16) and a JumpReLU SAE with d = 64 inputs and 512 latents each train on
synthetic sparse activations in batches of 4096. Training speed is the steady-state rate, from the difference between
two warmed-up runs of different lengths (so initialisation and compilation drop out);
encoding speed is one jitted ``encode`` of a batch. Prints one line per architecture::

    .venv/bin/python bench/sae_throughput.py
"""

import time

import jax
import numpy as np

import physlens  # noqa: F401  (switches JAX to float64)
from physlens.lens.sae import JumpReLUConfig, ReLUConfig, TopKConfig, TrainConfig, encode, train_sae

D, F, K, BATCH = 64, 512, 16, 4096
N_INPUTS = 16 * BATCH
SHORT, LONG, REPEATS = 8, 40, 3


def synthetic_acts(seed: int = 0) -> np.ndarray:
    """N_INPUTS vectors, each a positive combination of 8 of 1024 random unit directions."""
    rng = np.random.default_rng(seed)
    dirs = rng.normal(size=(1024, D))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    idx = rng.integers(0, 1024, size=(N_INPUTS, 8))
    return np.einsum("nk,nkd->nd", rng.uniform(0.5, 1.5, size=(N_INPUTS, 8)), dirs[idx])


def train_seconds(cfg, acts: np.ndarray, n_steps: int) -> float:
    """Wall time of one training run of ``n_steps`` steps, parameters ready."""
    start = time.perf_counter()
    sae, _ = train_sae(cfg, acts, TrainConfig(n_steps=n_steps, batch_size=BATCH))
    jax.block_until_ready(sae.params)
    return time.perf_counter() - start


def rates(cfg, acts: np.ndarray) -> tuple[float, float]:
    """Steady-state training and encoding rates of ``cfg``, vectors per second."""
    train_seconds(cfg, acts, SHORT)
    short = min(train_seconds(cfg, acts, SHORT) for _ in range(REPEATS))
    long = min(train_seconds(cfg, acts, LONG) for _ in range(REPEATS))
    train_rate = (LONG - SHORT) * BATCH / (long - short)
    sae, _ = train_sae(cfg, acts, TrainConfig(n_steps=1, batch_size=BATCH))
    batch = jax.device_put(acts[:BATCH])
    run = jax.jit(encode)
    jax.block_until_ready(run(sae, batch))
    times = []
    for _ in range(10):
        start = time.perf_counter()
        jax.block_until_ready(run(sae, batch))
        times.append(time.perf_counter() - start)
    return train_rate, BATCH / min(times)


def main() -> None:
    acts = synthetic_acts()
    device = jax.devices()[0].device_kind
    configs = {"ReLU-L1": ReLUConfig(d_in=D, d_sae=F, l1_coefficient=1e-3), f"TopK k={K}": TopKConfig(d_in=D, d_sae=F, k=K),
               "JumpReLU": JumpReLUConfig(d_in=D, d_sae=F, l0_coefficient=1e-3)}
    for name, cfg in configs.items():
        train_rate, encode_rate = rates(cfg, acts)
        print(f"sae_throughput: {name} d={D} F={F} batch={BATCH} float64 on {device}: "
              f"train {train_rate:.3g} vectors/s, encode {encode_rate:.3g} vectors/s")


if __name__ == "__main__":
    main()
