"""Sparse autoencoders in JAX, for any network's activations (no physics imported here).

Three architectures, each a config class with its activation and training loss:
``ReLUConfig`` (decoder-norm-weighted L1), ``TopKConfig`` (TopK with AuxK) and
``JumpReLUConfig`` (learned thresholds, L0 through straight-through estimators). Shared
machinery lives in ``base`` (normalisation, geometric-median init, encode/decode, unit-norm
decoder), training in ``train``, measurements and splicing in ``metrics``, files in ``io``.
Usage::

    from physlens.lens.sae import TopKConfig, TrainConfig, train_sae, sae_metrics, save_sae
    sae, log = train_sae(TopKConfig(d_in=64, d_sae=512, k=16), acts_ND, TrainConfig(n_steps=3000))
    print(sae_metrics(sae, acts_ND).explained_variance)
    save_sae(sae, run_dir / "sae")
"""

from physlens.lens.sae.base import (
    SAE,
    SAEConfig,
    decode,
    encode,
    geometric_median,
    init_sae,
    reconstruct,
    remove_parallel_grads,
    unit_norm_rows,
)
from physlens.lens.sae.io import config_for, load_sae, save_sae
from physlens.lens.sae.jumprelu import JumpReLUConfig
from physlens.lens.sae.metrics import SAEMetrics, fidelity, fraction_recovered, sae_metrics, splice
from physlens.lens.sae.relu import ReLUConfig
from physlens.lens.sae.topk import TopKConfig
from physlens.lens.sae.train import TrainConfig, TrainLog, train_sae

__all__ = [
    "SAE",
    "JumpReLUConfig",
    "ReLUConfig",
    "SAEConfig",
    "SAEMetrics",
    "TopKConfig",
    "TrainConfig",
    "TrainLog",
    "config_for",
    "decode",
    "encode",
    "fidelity",
    "fraction_recovered",
    "geometric_median",
    "init_sae",
    "load_sae",
    "reconstruct",
    "remove_parallel_grads",
    "sae_metrics",
    "save_sae",
    "splice",
    "train_sae",
    "unit_norm_rows",
]
