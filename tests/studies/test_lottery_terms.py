"""The terms each IMP ticket spans (``physlens.studies.lottery_terms``) against a loop over the saved masks, and the
claim on curves with known steps."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from physlens.quantum.systems import make_system
from physlens.studies.lottery import run_study
from physlens.studies.lottery_config import StudyConfig
from physlens.studies.lottery_terms import interaction_terms, term_claim, term_table


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("terms") / "tiny"
    run_study(dataclasses.replace(StudyConfig.preset("tiny"), steps=20, rounds=3, seeds=(0, 1),
                                  controls=("random_prune",)), out)
    return out


@pytest.mark.parametrize("arm", ["imp", "random_prune"])
def test_table_counts_the_ring_bonds_every_network_of_an_arm_spans(study, arm):
    levels = pd.read_csv(study / "levels.csv").rename(columns={"objective": "energy", "error": "rel_error"})
    system = make_system("tfim-chain", 6, h=1.0, pbc=True)
    table = term_table(study, levels, system, arm)
    dense = (levels.level == 0).sum()                            # level 0, IMP's dense network, starts every arm
    assert len(table) == dense + ((levels.arm == arm) & (levels.level > 0)).sum()
    assert set(table.terms) == {6} and set(table.term) == {"bond"}
    ring = [(i, (i + 1) % 6) for i in range(6)]
    for row in table.itertuples():
        name = "imp" if row.level == 0 else arm
        with np.load(study / "levels" / f"level_{row.level:02d}" / f"{name}_seed{row.seed}.mask.npz") as npz:
            keep_NM = npz["layers.0/kernel"]
        spanned = sum(any(keep_NM[i, j] and keep_NM[k, j] for j in range(keep_NM.shape[1])) for i, k in ring)
        assert row.terms_covered == spanned
        assert row.rho == pytest.approx(keep_NM.sum() / 6)
        assert row.units_alive == int((keep_NM.sum(axis=0) > 0).sum())
    assert table.groupby("seed").terms_covered.apply(lambda b: b.iloc[0]).tolist() == [6, 6], "dense: every bond"


def test_the_toric_codes_terms_are_its_plaquettes():
    name, terms_EK = interaction_terms(make_system("toric-code", 3))
    assert name == "plaquette" and terms_EK.shape == (9, 4)
    assert sorted(terms_EK.ravel().tolist()) == sorted(list(range(18)) * 2), "each edge borders two plaquettes"


def _terms(error_by_seed: dict[int, list[float]], covered_by_seed: dict[int, list[int]]) -> pd.DataFrame:
    return pd.DataFrame([{"seed": seed, "level": level, "rho": 8 * 0.88 ** level, "rel_error": error, "term": "bond",
                          "terms": 24, "terms_covered": covered_by_seed[seed][level]}
                         for seed, errors in error_by_seed.items() for level, error in enumerate(errors)])


def test_claim_holds_when_every_seed_steps_most_where_it_loses_a_term():
    errors = {0: [1e-3, 1.2e-3, 1.4e-3, 1.4e-3, 5e-3, 6e-3], 1: [1e-3, 1.2e-3, 1.4e-3, 4e-3, 5e-3, 6e-3]}
    covered = {0: [24, 24, 24, 24, 22, 20], 1: [24, 24, 24, 23, 22, 20]}
    claim = term_claim(_terms(errors, covered))
    assert claim["answer"] == "yes" and "first bond loses" in claim["question"]
    assert "seed 1: first bond lost at rho 5.45 (error 0.0014 -> 0.004, +0.46 decades)" in claim["detail"]
    covered[1] = [24, 24, 24, 24, 23, 20]                      # seed 1 now loses its first bond a level later
    assert term_claim(_terms(errors, covered))["answer"] == "no"


def test_claim_is_not_measured_when_no_ticket_loses_a_term():
    claim = term_claim(_terms({0: [1e-4, 1e-3, 1e-2]}, {0: [24, 24, 24]}))
    assert claim["answer"] == "not measured"
