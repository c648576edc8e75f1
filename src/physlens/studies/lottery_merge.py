"""Join lottery studies that differ only in their seeds into one study, as if they had run together.

Every network of a lottery study depends on its own seed alone: θ_0 and the re-initialisation are
drawn per seed, the random masks are seeded by (seed, level, arm) and the samplers by the network's
own start and mask (``physlens.lens.lottery``, ``physlens.quantum.masked_training.content_seed``).
So studies of seed 0 and of seeds 1, 2, run in different sittings, are together the study of seeds
0, 1, 2 — which is what the seed-branch and across-seed questions need. ``merge_studies`` checks that
the folders record the same settings apart from their seeds, that no seed appears twice and that they
finished the same levels, then writes the joined folder: every level's masks and parameters copied,
its rows in the order a joint run writes them (seed by seed), ``study.json`` with the union of the
seeds, every source's sittings and where each seed came from (``merged_from``). The new folder is
built beside ``out`` and renamed into place, so it is whole or absent; the sources are only read.
Magnetisations and fidelities are measured afresh for the joined folder (``lottery_observables``);
climbs by regrowing (``regrowth-*``) stay with their source.

Usage::

    merge_studies(["runs/a1-s0", "runs/a1-s1-2"], "runs/a1-s0-2")
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

from physlens.errors import PhyslensError
from physlens.folders import folder_kind, lock_holder, lock_is_stale
from physlens.runs import atomic_write_text
from physlens.studies.lottery import recorded_settings, write_levels_table

SITTING_KEYS = ("seeds", "sittings", "merged_from")
"""Keys of ``study.json`` that describe who ran what, not the study: they may differ between the joined folders."""
REFERENCE_RTOL = 1e-12
"""Relative difference allowed between the folders' ``e0``: the exact ground-state energy is recomputed (Lanczos) in
each folder's first sitting, and two sittings on other machines or library versions agree to the last bits only
(−50.858178102200924 and −50.85817810220093 J for the 4×4 TFIM); the joined folder keeps the first folder's."""


def _read(source: Path) -> tuple[dict, dict, list[int]]:
    """``study.json``, ``levels/lottery.json`` and the finished level numbers of one source folder."""
    if folder_kind(source) != "lottery study":
        raise PhyslensError(f"{source} is not a lottery study folder; allowed: physlens prune --out folders")
    holder = lock_holder(source)
    if holder is not None and not lock_is_stale(holder):
        raise PhyslensError(f"{source} is being run by another process; allowed: a study no process is running")
    levels = sorted(int(p.parent.name.removeprefix("level_")) for p in (source / "levels").glob("level_*/level.json"))
    return (json.loads((source / "study.json").read_text()), json.loads((source / "levels" / "lottery.json").read_text()),
            levels)


def _check(sources: Sequence[Path], read: list[tuple[dict, dict, list[int]]]) -> list[int]:
    """Refuse folders that differ in anything but their seeds (a setting a folder predates counts as its default,
    as on resuming); the joined seeds, sorted."""
    first_study, first_header, first_levels = read[0]
    first = {**first_study, **recorded_settings(first_study)}
    for source, (study, header, levels) in zip(sources[1:], read[1:]):
        own = {**study, **recorded_settings(study)}
        changed = sorted(k for k in (set(own) | set(first)) - set(SITTING_KEYS) if own.get(k) != first.get(k)
                         and not (k == "e0" and _same_reference(own[k], first.get(k))))
        if changed or header["config"] != first_header["config"]:
            raise PhyslensError(f"{source} records other settings than {sources[0]} "
                                f"({', '.join(changed) or 'the pruning configuration'}); allowed: studies that differ "
                                "only in their seeds")
        if levels != first_levels:
            raise PhyslensError(f"{source} has finished levels {levels[0]}…{levels[-1]} ({len(levels)}) and "
                                f"{sources[0]} {first_levels[0]}…{first_levels[-1]} ({len(first_levels)}); allowed: "
                                "studies that finished the same levels (resume the shorter one first)")
    seeds = [s for study, _, _ in read for s in study["seeds"]]
    if len(set(seeds)) != len(seeds):
        raise PhyslensError(f"the folders share seeds ({sorted(seeds)}); allowed: folders with disjoint seeds")
    return sorted(seeds)


def _same_reference(e0: float, other: float | None) -> bool:
    """Whether two recorded reference energies agree to ``REFERENCE_RTOL``."""
    return other is not None and abs(e0 - other) <= REFERENCE_RTOL * abs(other)


def merge_studies(sources: Sequence[Path | str], out: Path | str) -> Path:
    """Join the lottery studies in ``sources`` (same settings, disjoint seeds, the same finished levels) into the
    new folder ``out``; returns ``out``. Writes ``study.json``, ``levels/`` and ``levels.csv``."""
    sources, out = [Path(s) for s in sources], Path(out)
    if len(sources) < 2:
        raise PhyslensError(f"need at least two study folders to join; got {len(sources)}")
    if folder_kind(out) is not None:
        raise PhyslensError(f"{out} already holds {folder_kind(out)}; allowed: a new --out")
    read = [_read(source) for source in sources]
    seeds = _check(sources, read)
    study = {**read[0][0], **recorded_settings(read[0][0]), "seeds": seeds,
             "sittings": [sitting for s, _, _ in read for sitting in s.get("sittings", [])],
             "merged_from": [{"folder": str(source), "seeds": s["seeds"]} for source, (s, _, _) in zip(sources, read)]}
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.joining-", dir=out.parent))
    try:
        for level in read[0][2]:
            name = f"level_{level:02d}"
            (staging / "levels" / name).mkdir(parents=True)
            level_rows = []
            for source in sources:
                for file in (source / "levels" / name).glob("*.npz"):
                    shutil.copy2(file, staging / "levels" / name / file.name)
                level_rows += json.loads((source / "levels" / name / "level.json").read_text())
            level_rows.sort(key=lambda row: row["seed"])
            atomic_write_text(staging / "levels" / name / "level.json", json.dumps(level_rows, indent=1))
        atomic_write_text(staging / "levels" / "lottery.json", json.dumps({**read[0][1], "seeds": seeds}, indent=1))
        write_levels_table(staging)
        atomic_write_text(staging / "study.json", json.dumps(study, indent=1, default=list))
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return out
