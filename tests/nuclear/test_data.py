"""Tests of the AME2020 parser against the README's spot values and the tables' own arithmetic.

Tolerances follow from the printed precision: every experimental mass excess is printed
to at least 0.001 keV (rounding ≤ 0.0005 keV), the rct energies to 0.0001 keV (≤ 0.00005
keV), the printed B/A and Q_β⁻ to 0.0001 keV, Δ(n) to 0.00001 keV; estimated values are
printed to whole keV (≤ 0.5 keV).
"""

import re
import sys
import types
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from physlens.errors import PhyslensError
from physlens.nuclear.data import (
    DELTA_H_KEV,
    DELTA_N_KEV,
    fortran_fields,
    load_ame2020,
    load_charge_radii,
    parse_mass_table,
    separation_energies_from_masses,
)

MASS_ROUNDING = 0.5e-3  # keV, experimental mass excess
RCT_ROUNDING = 0.5e-4  # keV, rct energies
ESTIMATED_ROUNDING = 0.5  # keV, '#' values
FLOAT_SLACK = 1e-9  # keV


def _packaged(name: str) -> str:
    return resources.files("physlens.nuclear").joinpath("data", name).read_text(encoding="ascii")


def _row(table: pd.DataFrame, z: int, n: int) -> pd.Series:
    rows = table[(table.Z == z) & (table.N == n)]
    assert len(rows) == 1
    return rows.iloc[0]


def _at(table: pd.DataFrame, column: str, z: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``column`` of nuclide (z, n) for each pair; NaN where it is not in the table."""
    return table.set_index(["Z", "N"])[column].reindex(pd.MultiIndex.from_arrays([z, n])).to_numpy(float)


def _experimental_at(table: pd.DataFrame, z: np.ndarray, n: np.ndarray) -> np.ndarray:
    """True where nuclide (z, n) is in the table with an experimental mass."""
    experimental = ~table.set_index(["Z", "N"])["estimated"]
    return experimental.reindex(pd.MultiIndex.from_arrays([z, n]), fill_value=False).to_numpy(bool)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return load_ame2020()


def test_fortran_fields_expands_repeats_and_skips():
    assert fortran_fields("a1,i3,1x,a3,i3,1x,2(f12.4,f10.4)") == [
        ("a", 0, 1),
        ("i", 1, 4),
        ("a", 5, 8),
        ("i", 8, 11),
        ("f", 12, 24),
        ("f", 24, 34),
        ("f", 34, 46),
        ("f", 46, 56),
    ]
    with pytest.raises(PhyslensError, match="edit descriptor"):
        fortran_fields("a1,e12.4")


def test_count_is_every_record_of_the_file(table):
    lines = _packaged("mass.mas20").splitlines()
    record = re.compile(r"^[ 0]\s*-?\d+\s+\d+\s+\d+\s+\d+ +[A-Za-z]+ ")
    assert sum(bool(record.match(line)) for line in lines) == 3558
    assert len(table) == 3558
    assert not table.duplicated(["Z", "N"]).any()
    assert (table.A == table.Z + table.N).all()


def test_readme_spot_values(table):
    for z, n, b_per_a_mev in [(82, 126, 7.867453), (8, 8, 7.976207), (26, 30, 8.790356)]:
        row = _row(table, z, n)
        assert not row.estimated
        assert round(row.B_per_A / 1000.0, 6) == b_per_a_mev
        by_hand = (z * DELTA_H_KEV + n * DELTA_N_KEV - row.mass_excess) / (z + n)
        assert row.B_per_A == pytest.approx(by_hand, abs=FLOAT_SLACK)


def test_computed_binding_matches_printed_b_per_a(table):
    exp = ~table.estimated
    gap = (table.B_per_A - table.B_per_A_printed).abs()
    # experimental: printed B/A rounding + Δ(n), Δ(¹H) rounding + mass-excess rounding / A
    bound = RCT_ROUNDING + 0.5e-5 + MASS_ROUNDING / table.A
    assert (gap[exp] <= bound[exp] + FLOAT_SLACK).all()
    bound_est = ESTIMATED_ROUNDING + ESTIMATED_ROUNDING / table.A
    assert (gap[~exp] <= bound_est[~exp]).all()


def test_hash_and_star_markers(table):
    li3 = _row(table, 3, 0)  # "28667#  2000#" and B/A "-2267#"
    assert li3.estimated and li3.mass_excess == 28667.0 and li3.mass_excess_unc == 2000.0
    assert li3.B_per_A_printed == -2267.0
    he3 = _row(table, 2, 1)  # experimental mass, estimated Q_β⁻ "-13736#"
    assert not he3.estimated and he3.Q_beta_minus_estimated and he3.Q_beta_minus == -13736.0
    h1 = _row(table, 1, 0)  # Q_β⁻ printed as '*'
    assert np.isnan(h1.Q_beta_minus) and not h1.Q_beta_minus_estimated
    assert h1.Q_EC == pytest.approx(DELTA_H_KEV - DELTA_N_KEV, abs=RCT_ROUNDING)
    assert _row(table, 0, 1).B == 0.0 and h1.B == 0.0
    assert _row(table, 6, 6).mass_excess == 0.0
    o16 = _row(table, 8, 8)  # rct2: "  16 O    8   15663.9424    0.4902  12127.4113    0.0006 ..."
    assert (o16.S_n, o16.S_n_unc, o16.S_p, o16.S_p_unc) == (15663.9424, 0.4902, 12127.4113, 0.0006)
    assert not o16.S_n_estimated and np.isnan(o16.Q_4beta_minus)


QUANTITIES = ["S_n", "S_p", "S_2n", "S_2p", "Q_alpha", "Q_beta_minus", "Q_2beta_minus", "Q_beta_minus_n", "Q_EC"]


def test_reaction_columns_are_all_there(table):
    for q in [*QUANTITIES, "Q_ep", "Q_4beta_minus", "Q_d_alpha", "Q_p_alpha", "Q_n_alpha"]:
        assert {q, f"{q}_unc", f"{q}_estimated"} <= set(table.columns)
        assert table[f"{q}_estimated"].dtype == bool


def test_filters(table):
    exp = load_ame2020(experimental_only=True, zmin=8, nmin=8)
    mask = ~table.estimated & (table.Z >= 8) & (table.N >= 8)
    assert len(exp) == mask.sum() and not exp.estimated.any()
    assert exp.Z.min() == 8 and exp.N.min() == 8
    assert len(load_ame2020(experimental_only=True)) == (~table.estimated).sum()
    with pytest.raises(PhyslensError, match="non-negative"):
        load_ame2020(zmin=-1)


def test_returns_a_copy():
    first = load_ame2020()
    first.loc[:, "B"] = 0.0
    assert load_ame2020().B.max() > 1.0e6


@pytest.mark.parametrize(("quantity", "dz", "dn"), [("S_n", 0, 1), ("S_p", 1, 0), ("S_2n", 0, 2), ("S_2p", 2, 0)])
def test_separation_energies_match_rct_tables(table, quantity, dz, dn):
    ours = separation_energies_from_masses(table)[quantity].to_numpy()
    printed = table[quantity].to_numpy()
    both_exp = ~table.estimated.to_numpy() & _experimental_at(table, table.Z - dz, table.N - dn)
    assert both_exp.sum() > 2000
    assert np.isfinite(ours[both_exp]).all() and np.isfinite(printed[both_exp]).all()
    assert not table[f"{quantity}_estimated"].to_numpy()[both_exp].any()
    # two experimental masses (≤ 0.0005 keV each), Δ(n) or Δ(¹H) and the printed value
    tolerance = 2 * MASS_ROUNDING + RCT_ROUNDING + 0.5e-5 + FLOAT_SLACK
    np.testing.assert_array_less(np.abs(ours - printed)[both_exp], tolerance)
    both = np.isfinite(ours) & np.isfinite(printed)
    np.testing.assert_array_less(np.abs(ours - printed)[both], 3 * ESTIMATED_ROUNDING)


def test_separation_energies_need_neighbours_in_the_table(table):
    o16_only = table[(table.Z == 8) & (table.N == 8)]
    assert separation_energies_from_masses(o16_only).isna().all(axis=None)
    with pytest.raises(PhyslensError, match="lacks columns"):
        separation_energies_from_masses(table[["Z", "N"]])
    with pytest.raises(PhyslensError, match="repeated"):
        separation_energies_from_masses(pd.concat([o16_only, o16_only]))


def test_q_ec_and_q_alpha_match_the_masses(table):
    z, n = table.Z.to_numpy(), table.N.to_numpy()
    exp = ~table.estimated.to_numpy()
    q_ec = table.mass_excess.to_numpy() - _at(table, "mass_excess", z - 1, n + 1)
    ok = exp & _experimental_at(table, z - 1, n + 1)
    assert np.isfinite(table.Q_EC.to_numpy()[ok]).all() and ok.sum() > 2000
    np.testing.assert_array_less(np.abs(q_ec - table.Q_EC)[ok], 2 * MASS_ROUNDING + RCT_ROUNDING + FLOAT_SLACK)
    he4 = _row(table, 2, 2).mass_excess
    q_alpha = table.mass_excess.to_numpy() - _at(table, "mass_excess", z - 2, n - 2) - he4
    ok = exp & _experimental_at(table, z - 2, n - 2)
    assert ok.sum() > 2000
    tolerance = 3 * MASS_ROUNDING + RCT_ROUNDING + FLOAT_SLACK  # Δ(Z,N), Δ(Z−2,N−2), Δ(⁴He)
    np.testing.assert_array_less(np.abs(q_alpha - table.Q_alpha)[ok], tolerance)


def test_mass_header_misprint_is_corrected():
    text = _packaged("mass.mas20")
    printed = "f14.6,f12.6,f15.5,f11.5,1x,a2"
    assert printed in text  # the shipped header's format line disagrees with its records
    corrected = parse_mass_table(text.replace(printed, "f14.6,f12.6,f13.5,1x,f10.5,1x,a2"))
    pd.testing.assert_frame_equal(parse_mass_table(text), corrected)


def test_parser_rejects_other_layouts():
    text = _packaged("mass.mas20")
    with pytest.raises(PhyslensError, match="no 'format :' line"):
        parse_mass_table(text.replace("format    :", "layout    :"))
    with pytest.raises(PhyslensError, match="differ from the AME2020 layout"):
        parse_mass_table(text.replace("f14.6,f12.6,f15.5", "f14.6,f15.5"))


def test_charge_radii_without_nucleardatapy(monkeypatch):
    monkeypatch.setitem(sys.modules, "nucleardatapy", None)
    with pytest.raises(PhyslensError, match="pip install nucleardatapy"):
        load_charge_radii()


def test_charge_radii_reads_nucleardatapy_strings(monkeypatch):
    def setup(table):
        assert table == "2013-Angeli"
        return types.SimpleNamespace(
            nucZ=["82", "8"], nucN=["126", "8"], nucA=["208", "16"], nucRch=["5.5012", "2.6991"],
            nucRch_err=["0.0013\n", "0.0052\n"],
        )

    fake = types.SimpleNamespace(nuc=types.SimpleNamespace(setupRchExp=setup))
    monkeypatch.setitem(sys.modules, "nucleardatapy", fake)
    radii = load_charge_radii()
    assert radii.Z.tolist() == [82, 8] and radii.A.tolist() == [208, 16]
    assert radii.R_ch.tolist() == [5.5012, 2.6991] and radii.R_ch_unc.tolist() == [0.0013, 0.0052]
