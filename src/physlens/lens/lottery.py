"""Iterative magnitude pruning (IMP) with rewinding, and its controls, as domain-free logic.

The physics enters as a training callable ``train(params, masks) -> TrainedBatch`` that
trains K (parameters, mask) pairs, for instance all at once with ``jax.vmap``, and
reports an objective (an energy) and a relative error for each. One IMP level r ≥ 1:

- ``imp``: T(θ_init, m_IMP), the ticket: prune a fraction p of the survivors of the
  previous IMP level's trained weights by magnitude, rewind to θ_0 (or θ_k), train.
- ``reinit``: T(θ_rand, m_IMP): the same mask on a fresh initialisation.
- ``random_mask``: T(θ_init, m_rand): a random mask with the IMP mask's per-layer density.
- ``random_prune``: iterative random pruning: prune p of its own previous mask at random.
- ``init_imp``: T(θ_0, m_IMP): the IMP mask on the seed's own initialisation, for late rewinding,
  where the ticket starts from θ_k instead (Barton et al.'s ``T_init_imp``).

Level 0 trains the dense network of every seed; every arm of every seed of one
level is trained in a single ``train`` call, or (``one_by_one``, for trainers that go
network by network) the pruned arms in one call and each dense network and isolated
control in its own. What a call trained is written atomically (masks, parameters and
the level's table) under ``out/level_RR/``; ``run_lottery`` on the same folder skips
finished networks, and since every random choice is seeded by (seed, level, arm), a
resumed run finds the same masks as an uninterrupted one.
A folder grows: a later run asking for controls it lacks (``controls``,
``control_levels``; every other setting fixed) trains just those beside the arms
already there, from the same masks and starts a joint run would have used, and the
folder records what it holds (``held_controls``).

Usage::

    result = run_lottery(out, init_params=[θ0_a, θ0_b], reinit_params=[θr_a, θr_b],
                         train=train_batch, config=LotteryConfig(rounds=8, fraction=0.2))
    result.to_frame()   # one row per (level, arm, seed): density, objective, error
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pandas as pd

from physlens.errors import PhyslensError, check_choice
from physlens.lens.mask import Mask
from physlens.lens.pruning import ROUNDINGS, prune_global, prune_layerwise, prune_random, random_mask_like, rewind
from physlens.runs import atomic_write_bytes, atomic_write_text

ARMS = ("imp", "reinit", "random_mask", "random_prune", "init_imp")
"""Arms of a level ≥ 1: the ticket and its controls."""
CONTROLS = ARMS[1:]
DEFAULT_CONTROLS = ("reinit", "random_mask", "random_prune")
"""The controls trained unless others are asked for (``init_imp`` adds nothing when survivors rewind to θ_0)."""
ISOLATED = ("reinit", "random_mask", "init_imp")
"""Controls trained once from a start point (not iteratively): ``train_control`` trains them."""
CONTROL_STARTS = ("rewind", "init")
SCOPES = ("global", "layerwise")


@dataclass(frozen=True)
class LotteryConfig:
    """How the IMP experiment prunes.

    Attributes:
        rounds: number R of pruning rounds (levels 1..R after the dense level 0).
        fraction: share p of the surviving prunable weights removed per round, in (0, 1).
        scope: ``global`` or ``layerwise`` magnitude pruning.
        controls: which controls to train beside ``imp`` (subset of ``CONTROLS``).
        rewind_step: rewind survivors to the parameters after this many training steps of
            the dense level (0: θ_0, the classic lottery ticket).
        rounding: how fraction · n becomes a count (``physlens.lens.pruning.ROUNDINGS``).
        controls_from: where the isolated controls start: ``rewind`` (``random_mask`` from the
            ticket's rewind point, ``reinit`` from θ_rand) or ``init`` (``random_mask`` from θ_0, as
            Barton et al.'s code restarts its controls from the saved initialisation); ``init_imp``
            always starts from θ_0.
        control_levels: levels at which the isolated controls (``ISOLATED``) are trained (empty:
            every level); ``random_prune`` is iterative and runs at every level.
    """

    rounds: int = 10
    fraction: float = 0.2
    scope: str = "global"
    controls: tuple[str, ...] = DEFAULT_CONTROLS
    rewind_step: int = 0
    rounding: str = "floor"
    controls_from: str = "rewind"
    control_levels: tuple[int, ...] = ()

    def __post_init__(self):
        check_choice("scope", self.scope, SCOPES)
        check_choice("rounding", self.rounding, ROUNDINGS)
        check_choice("controls_from", self.controls_from, CONTROL_STARTS)
        for control in self.controls:
            check_choice("control", control, CONTROLS)
        if self.rounds < 1 or not 0.0 < self.fraction < 1.0 or self.rewind_step < 0:
            raise PhyslensError(f"need rounds >= 1, 0 < fraction < 1, rewind_step >= 0; got {self.rounds}, "
                                f"{self.fraction}, {self.rewind_step}")
        if any(not 1 <= level <= self.rounds for level in self.control_levels):
            raise PhyslensError(f"control_levels {self.control_levels} must lie in 1..{self.rounds}")

    @property
    def arms(self) -> tuple[str, ...]:
        """The arms of a level ≥ 1: ``imp``, then the chosen controls in the order of ``CONTROLS``."""
        return ("imp",) + tuple(c for c in CONTROLS if c in self.controls)

    def arms_at(self, level: int) -> tuple[str, ...]:
        """The arms trained at ``level`` ≥ 1."""
        return tuple(a for a in self.arms if a not in ISOLATED or not self.control_levels or level in self.control_levels)


GROWABLE = ("controls", "control_levels")
"""Settings a finished folder may be asked for more of: which controls, at which levels."""


def held_controls(recorded: dict, wanted: dict) -> dict:
    """``controls`` and ``control_levels`` a folder holds after a run asking for ``wanted``'s on one that holds
    ``recorded``'s (both dicts with those two keys): the union of the controls, in ``CONTROLS`` order, and of the
    isolated controls' levels, counted only from a side that has an isolated control (an empty tuple, every
    level, absorbs the rest)."""
    controls = tuple(c for c in CONTROLS if c in recorded["controls"] or c in wanted["controls"])
    sides = [side for side in (recorded, wanted) if set(side["controls"]) & set(ISOLATED)]
    if not sides:
        return {"controls": controls, "control_levels": tuple(wanted["control_levels"])}
    if any(not side["control_levels"] for side in sides):
        return {"controls": controls, "control_levels": ()}
    return {"controls": controls, "control_levels": tuple(sorted({lv for side in sides for lv in side["control_levels"]}))}


@dataclass(frozen=True)
class TrainedBatch:
    """What the training callable returns for K (parameters, mask) pairs.

    Attributes:
        params: K trained parameter pytrees (pruned entries 0).
        objective_K: the trained objective of each (an energy, in the caller's unit).
        error_K: relative error of each against the reference.
        rewind_params: K parameter pytrees after ``rewind_step`` steps, or None.
        objective_sem_K: standard error of an estimated (Monte Carlo) objective; None when exact.
    """

    params: list
    objective_K: np.ndarray
    error_K: np.ndarray
    rewind_params: list | None = None
    objective_sem_K: np.ndarray | None = None


TrainFn = Callable[[list, list[Mask]], TrainedBatch]


@dataclass(frozen=True)
class LotteryResult:
    """Every trained network of an IMP experiment.

    Attributes:
        rows: one dict per (level, arm, seed): ``level``, ``arm``, ``seed``, ``density``
            (surviving share of prunable weights), ``objective``, ``error``, and ``objective_sem`` where the
            objective was estimated.
        masks: (level, arm, seed) → mask.
        params: (level, arm, seed) → trained parameters.
    """

    rows: list[dict]
    masks: dict
    params: dict

    def to_frame(self) -> pd.DataFrame:
        """One row per network; the ``objective_sem`` column only when some objective was estimated."""
        columns = ["level", "arm", "seed", "density", "objective", "error"]
        return pd.DataFrame(self.rows, columns=columns + (["objective_sem"] if any("objective_sem" in r for r in self.rows)
                                                          else []))


def _seed(seed: int, level: int, arm: str) -> int:
    return int(seed) * 100_003 + level * 101 + ARMS.index(arm)


def params_bytes(params: Any) -> bytes:
    """A parameter pytree as ``.npz`` bytes (its leaves in tree order; ``params_from`` reads them back)."""
    leaves = jax.tree_util.tree_leaves(params)
    buffer = io.BytesIO()
    np.savez(buffer, *[np.asarray(leaf) for leaf in leaves])
    return buffer.getvalue()


def params_from(path: Path, like: Any) -> Any:
    """The parameters saved by ``params_bytes`` in ``path``, in the pytree structure of ``like``."""
    with np.load(path) as npz:
        leaves = [npz[f"arr_{i}"] for i in range(len(npz.files))]
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(like), leaves)


def _level_dir(out: Path, level: int) -> Path:
    return out / f"level_{level:02d}"


def level_params(out: Path | str, level: int, arm: str, seed: int, like: Any) -> Any:
    """The trained parameters of (level, arm, seed) saved by ``run_lottery`` under ``out``, in the pytree
    structure of ``like``; pruned entries are 0."""
    return params_from(_level_dir(Path(out), level) / f"{arm}_seed{seed}.params.npz", like)


def level_mask(out: Path | str, level: int, arm: str, seed: int, like: Any = None) -> Mask:
    """The mask of (level, arm, seed) saved by ``run_lottery`` under ``out`` (in the structure of ``like`` when given)."""
    return Mask.load(_level_dir(Path(out), level) / f"{arm}_seed{seed}.mask.npz", like)


def _save_level(out: Path, level: int, entries: list[tuple], batch: TrainedBatch, extra: dict,
                seeds: Sequence[int], earlier: Sequence[dict] = ()) -> list[dict]:
    """Write ``entries``' masks and parameters, then the level's table: ``earlier`` rows and the new ones, seed by
    seed in ``seeds`` order and arm by arm in ``ARMS`` order (as a joint run writes them)."""
    folder = _level_dir(out, level)
    rows = list(earlier)
    for k, (arm, seed, mask) in enumerate(entries):
        mask.save(folder / f"{arm}_seed{seed}.mask.npz")
        atomic_write_bytes(folder / f"{arm}_seed{seed}.params.npz", params_bytes(batch.params[k]))
        rows.append({"level": level, "arm": arm, "seed": int(seed), "density": mask.density,
                     "objective": float(batch.objective_K[k]), "error": float(batch.error_K[k])})
        if batch.objective_sem_K is not None:
            rows[-1]["objective_sem"] = float(batch.objective_sem_K[k])
    for name, params in extra.items():
        atomic_write_bytes(folder / f"{name}.params.npz", params_bytes(params))
    rows.sort(key=lambda row: (list(seeds).index(row["seed"]), ARMS.index(row["arm"])))
    atomic_write_text(folder / "level.json", json.dumps(rows, indent=1))
    return rows


def _load_level(out: Path, level: int) -> list[dict] | None:
    folder = _level_dir(out, level)
    if not (folder / "level.json").is_file():
        return None
    return json.loads((folder / "level.json").read_text())


def saved_rows(out: Path | str) -> list[dict]:
    """Every network ``run_lottery`` saved under ``out`` (finished levels and the finished part of a stopped one):
    its ``level.json`` rows, level by level, each level in the order it stores them."""
    out = Path(out)
    levels = sorted(int(p.parent.name.removeprefix("level_")) for p in out.glob("level_*/level.json"))
    return [row for level in levels for row in _load_level(out, level)]


def _recorded(file: Path) -> dict:
    """The header in ``file``, with settings it predates filled in with their defaults."""
    recorded = json.loads(file.read_text())
    defaults = json.loads(json.dumps(asdict(LotteryConfig()), default=list))
    recorded["config"] = {**defaults, **recorded["config"]}
    return recorded


def _check_inputs(init_params: Sequence, reinit_params: Sequence, seeds: Sequence[int], template: Mask) -> None:
    if not init_params or len(init_params) != len(seeds) or len(reinit_params) != len(seeds):
        raise PhyslensError(f"need one init and one reinit parameter set per seed; got {len(init_params)}, "
                            f"{len(reinit_params)} for {len(seeds)} seeds")
    for params in list(init_params) + list(reinit_params):
        template.check_fits(params)


def _train_arms(entries: list[tuple], starts: list, train: TrainFn, train_control: TrainFn | None) -> TrainedBatch:
    """One ``TrainedBatch`` for ``entries`` in order: all by one ``train`` call, or, given ``train_control``,
    the isolated controls by ``train_control`` and the rest by ``train``."""
    if train_control is None:
        return train(starts, [mask for _, _, mask in entries])
    groups = [[k for k, (arm, _, _) in enumerate(entries) if (arm in ISOLATED) == isolated] for isolated in (False, True)]
    params, objective_K, error_K = [None] * len(entries), np.zeros(len(entries)), np.zeros(len(entries))
    sem_K, estimated = np.full(len(entries), np.nan), False
    for trainer, ks in zip((train, train_control), groups):
        if not ks:
            continue
        batch = trainer([starts[k] for k in ks], [entries[k][2] for k in ks])
        for j, k in enumerate(ks):
            params[k] = batch.params[j]
        objective_K[ks], error_K[ks] = batch.objective_K, batch.error_K
        if batch.objective_sem_K is not None:
            sem_K[ks], estimated = batch.objective_sem_K, True
    return TrainedBatch(params, objective_K, error_K, objective_sem_K=sem_K if estimated else None)


def _groups(entries: list[tuple], one_by_one: bool, alone: Container[str] = ISOLATED) -> list[list[int]]:
    """Indices of ``entries`` trained together: all in one call, or, ``one_by_one``, the other arms in one call and
    every entry of an arm in ``alone`` (the isolated controls; at level 0 the dense networks) in a call of its own."""
    if not entries:
        return []
    if not one_by_one:
        return [list(range(len(entries)))]
    together = [k for k, (arm, _, _) in enumerate(entries) if arm not in alone]
    return ([together] if together else []) + [[k] for k, (arm, _, _) in enumerate(entries) if arm in alone]


def run_lottery(out: Path | str, *, init_params: Sequence, reinit_params: Sequence, train: TrainFn,
                config: LotteryConfig, seeds: Sequence[int] | None = None,
                prunable: Callable[[str], bool] | Iterable[str] | None = None, train_dense: TrainFn | None = None,
                train_control: TrainFn | None = None, one_by_one: bool = False,
                on_level: Callable[[int], None] | None = None,
                on_saved: Callable[[int], None] | None = None) -> LotteryResult:
    """Run (or resume) IMP with rewinding and its controls, saving every level under ``out``.

    Args:
        out: folder of the experiment; finished levels found there are loaded, not retrained.
        init_params: θ_0 of each seed (parameter pytrees of one model).
        reinit_params: a second, independent initialisation of each seed (for ``reinit``).
        train: trains K (parameters, mask) pairs; see ``TrainedBatch``.
        train_dense: trains the dense level 0 (default ``train``), e.g. for longer.
        train_control: trains the isolated controls ``reinit`` and ``random_mask`` (default ``train``),
            e.g. as long as the dense level, as Barton et al. train theirs.
        config: rounds, fraction, scope, controls, rewind step.
        seeds: labels of the seeds (default 0..S−1); they also seed the random controls.
        prunable: which leaves may be pruned (``Mask.ones_like``'s argument; default kernels).
        one_by_one: train each dense network and each isolated control in a call of its own and save it as it
            finishes (the pruned arms of a level stay one call): for trainers that go network by network anyway,
            a stop then loses one network's training, not a level's. The numbers are the same when a network's
            training does not depend on the others in its call.
        on_level: called with each level's number once the level is finished (trained now or found saved).
        on_saved: called with a level's number each time networks of it have been trained and saved.
    """
    out = Path(out)
    seeds = list(range(len(init_params))) if seeds is None else [int(s) for s in seeds]
    template = Mask.ones_like(init_params[0]) if prunable is None else Mask.ones_like(init_params[0], prunable)
    _check_inputs(init_params, reinit_params, seeds, template)
    prune = prune_global if config.scope == "global" else prune_layerwise
    like = init_params[0]
    rows, masks, params = [], {}, {}
    header = {"config": asdict(config), "seeds": seeds}
    header["config"].update(controls=list(config.controls), control_levels=list(config.control_levels))
    if (out / "lottery.json").is_file():
        recorded = _recorded(out / "lottery.json")
        if _fixed(recorded) != _fixed(header):
            raise PhyslensError(f"{out} holds a lottery run with another configuration; allowed: the same config and "
                                "seeds (more controls may be asked for), or a new folder")
        held = held_controls(recorded["config"], header["config"])
        header["config"].update(controls=list(held["controls"]), control_levels=list(held["control_levels"]))
    atomic_write_text(out / "lottery.json", json.dumps(header, indent=1))

    def load_params(level, arm, seed):
        return params_from(_level_dir(out, level) / f"{arm}_seed{seed}.params.npz", like)

    reinit, init = dict(zip(seeds, reinit_params)), dict(zip(seeds, init_params))
    level0 = _load_level(out, 0) or []
    dense = [("imp", s, template) for s in seeds if s not in {row["seed"] for row in level0}]
    for group in _groups(dense, one_by_one, alone=("imp",)):
        chosen = [dense[k] for k in group]
        batch = (train_dense or train)([template.apply(init[s]) for _, s, _ in chosen], [template] * len(chosen))
        rewind_to = batch.rewind_params if config.rewind_step else None
        extra = {f"rewind_seed{s}": p for (_, s, _), p in zip(chosen, rewind_to)} if rewind_to else {}
        level0 = _save_level(out, 0, chosen, batch, extra, seeds, level0)
        if on_saved:
            on_saved(0)
    rows += level0
    if on_level:
        on_level(0)
    rewind_base = ({s: params_from(_level_dir(out, 0) / f"rewind_seed{s}.params.npz", like) for s in seeds}
                   if config.rewind_step else init)
    for s in seeds:
        masks[(0, "imp", s)] = template
        params[(0, "imp", s)] = load_params(0, "imp", s)
    for level in range(1, config.rounds + 1):
        done = _load_level(out, level) or []
        for row in done:
            key = (level, row["arm"], row["seed"])
            masks[key] = level_mask(out, *key, like=template)
            params[key] = load_params(*key)
        entries, starts = [], []
        for s in seeds:
            imp_mask = masks.get((level, "imp", s)) or prune(params[(level - 1, "imp", s)],
                                                             masks[(level - 1, "imp", s)], config.fraction,
                                                             config.rounding)
            for arm in config.arms:
                if arm == "random_mask":
                    mask = random_mask_like(imp_mask, _seed(s, level, arm))
                elif arm == "random_prune":
                    previous = masks.get((level - 1, arm, s), template)
                    mask = masks.get((level, arm, s)) or prune_random(previous, config.fraction,
                                                                      _seed(s, level, arm), config.rounding)
                    masks[(level, arm, s)] = mask
                else:
                    mask = imp_mask
                if arm not in config.arms_at(level) or (level, arm, s) in params:
                    continue
                base = {"reinit": reinit[s], "init_imp": init[s],
                        "random_mask": init[s] if config.controls_from == "init" else rewind_base[s]}.get(arm, rewind_base[s])
                entries.append((arm, s, mask))
                starts.append(rewind(params[(level - 1, "imp", s)], base, mask))
        for group in _groups(entries, one_by_one):
            chosen = [entries[k] for k in group]
            batch = _train_arms(chosen, [starts[k] for k in group], train, train_control)
            done = _save_level(out, level, chosen, batch, {}, seeds, done)
            if on_saved:
                on_saved(level)
            for k, (arm, s, mask) in enumerate(chosen):
                masks[(level, arm, s)] = mask
                params[(level, arm, s)] = batch.params[k]
        rows += done
        if on_level:
            on_level(level)
    return LotteryResult(rows, masks, params)


def _fixed(header: dict) -> dict:
    """``header`` without the settings a folder may grow in (``GROWABLE``)."""
    return {**header, "config": {k: v for k, v in header["config"].items() if k not in GROWABLE}}
