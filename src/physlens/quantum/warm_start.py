"""Start a training run from the final parameters of another: fine-tuning, or polishing a sampled run by full sums.

A ``TrainConfig`` with ``init_from = "runs/a"`` starts from the parameters run ``a`` ended with
(its ``params.msgpack``) instead of the seed's random initialisation; everything else — optimiser,
step-size schedule, exact or sampled mode, sampler seed — is the new config's. The source must be
an ended physlens NQS run of the same system and the same network (every field that shapes the
parameters); its parameters are checked against the sha256 its ``status.json`` records, and their
own sha256 is pinned into the new run's config (``init_sha256``), so a config replayed later
refuses a source whose parameters have changed since::

    cfg = dataclasses.replace(preset("heisenberg-4x4-converged"), init_from="runs/4x4", mode="exact", steps=200)
    run = train(cfg, "runs/4x4-polished")
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import flax.serialization

from physlens.errors import PhyslensError
from physlens.quantum.training_config import TrainConfig
from physlens.runs import TERMINAL_STATES, Run

NETWORK_FIELDS = ("system", "size", "system_params", "model", "alpha", "widths", "activation", "d_model", "n_layers",
                  "n_heads", "patch_size", "pos_encoding")
"""TrainConfig fields that fix the system and the shapes of the parameters: source and new run must agree on all."""
ENDED_WELL = ("finished", "converged")
"""States of a run whose parameters may start another (a failed run diverged or collapsed)."""


def _source(config: TrainConfig) -> tuple[Run, bytes]:
    """The source run of ``config.init_from`` and its final parameters, after every check."""
    run = Run.open(config.init_from, kind="nqs")
    state = run.status.get("state")
    if state not in ENDED_WELL:
        hint = f"; finish it first (physlens train --resume {run.path})" if state not in TERMINAL_STATES else ""
        raise PhyslensError(f"{run.path} is {state}: only a finished or converged run can start another{hint}")
    blob = run.read_blob("params.msgpack")
    if blob is None:
        raise PhyslensError(f"{run.path} holds no final parameters (params.msgpack); it cannot start another run")
    run.verify(("params.msgpack",), {"params.msgpack": blob})
    source = TrainConfig.from_dict(run.settings)
    differ = [f"{name} ({getattr(source, name)!r} there, {getattr(config, name)!r} here)"
              for name in NETWORK_FIELDS if getattr(source, name) != getattr(config, name)]
    if differ:
        raise PhyslensError(f"init_from {run.path} was trained on another system or network: {'; '.join(differ)}")
    return run, blob


def _pinned_blob(config: TrainConfig) -> tuple[bytes, str]:
    """The source's final parameters and their sha256, refused when ``init_sha256`` is set and differs."""
    _, blob = _source(config)
    digest = hashlib.sha256(blob).hexdigest()
    if config.init_sha256 and config.init_sha256 != digest:
        raise PhyslensError(f"the parameters of {config.init_from} have changed since this config was written "
                            f"(init_sha256 {config.init_sha256[:12]}…, now {digest[:12]}…)")
    return blob, digest


def pinned(config: TrainConfig) -> TrainConfig:
    """``config`` with the sha256 of its source's parameters in ``init_sha256`` (unchanged without ``init_from``);
    raises when ``init_sha256`` is already set and the source's parameters no longer match it."""
    if not config.init_from:
        return config
    return dataclasses.replace(config, init_sha256=_pinned_blob(config)[1])


def initial_variables(config: TrainConfig, template: Any) -> Any:
    """The source run's final parameters as a variables tree shaped like ``template`` (the new model's own)."""
    blob, _ = _pinned_blob(config)
    try:
        return flax.serialization.from_state_dict(template, flax.serialization.msgpack_restore(blob))
    except (KeyError, ValueError) as exc:
        raise PhyslensError(f"the parameters of {config.init_from} do not fit this network: {exc}") from None
