"""AME2020 nuclear masses, binding energies and reaction energies, parsed from the tables.

The three AME2020 files (``mass.mas20``, ``rct1.mas20``, ``rct2.mas20``) ship unmodified
in ``physlens/nuclear/data/``. Each file states its fixed-width Fortran record format in
its header (``format    :  a1,i3,i5,...``); the parser reads that line and slices the
columns from it (the one known misprint, in the mass table's header, is corrected). A
``#`` in place of the decimal point marks an estimated (non-experimental) value, a ``*``
a quantity that cannot be calculated (NaN here).

Every energy in the tables is in keV. Total binding energies are computed from the mass
excess as the packaged README prescribes, B = Z·Δ(¹H) + N·Δ(n) − Δ(Z, N), not from the
printed B/A (rounded to whole keV for estimated nuclides).

Usage::

    from physlens.nuclear.data import STUDY_NMIN, STUDY_ZMIN, load_ame2020, separation_energies_from_masses

    table = load_ame2020(experimental_only=True, zmin=STUDY_ZMIN, nmin=STUDY_NMIN)
    pb208 = table[(table.Z == 82) & (table.N == 126)].iloc[0]
    pb208.B_per_A / 1000.0  # 7.867453 MeV
    separation_energies_from_masses(table)  # S_n, S_p, S_2n, S_2p in keV
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from importlib import resources

import numpy as np
import pandas as pd

from physlens.errors import PhyslensError

DELTA_H_KEV = 7288.971064
"""Mass excess of the ¹H atom, keV (AME2020)."""
DELTA_N_KEV = 8071.31806
"""Mass excess of the neutron, keV (AME2020)."""
STUDY_ZMIN = 8
"""Smallest proton number the nuclear study keeps."""
STUDY_NMIN = 8
"""Smallest neutron number the nuclear study keeps."""

REACTION_QUANTITIES: dict[str, str] = {
    "S(2n)": "S_2n",
    "S(2p)": "S_2p",
    "Q(a)": "Q_alpha",
    "Q(2B-)": "Q_2beta_minus",
    "Q(ep)": "Q_ep",
    "Q(B- n)": "Q_beta_minus_n",
    "S(n)": "S_n",
    "S(p)": "S_p",
    "Q(4B-)": "Q_4beta_minus",
    "Q(d,a)": "Q_d_alpha",
    "Q(p,a)": "Q_p_alpha",
    "Q(n,a)": "Q_n_alpha",
}
"""Column label in rct1/rct2.mas20 → column name in the loaded table."""

_MASS_FILE = "mass.mas20"
_RCT_FILES = ("rct1.mas20", "rct2.mas20")
_MASS_KINDS = "aiiiiaaffffaffiff"
# The header of the 2021 mass.mas20 prints the B/A pair as "f15.5,f11.5", but its records
# are written as "f13.5,1x,f10.5,1x" (the AMDC's re-issued mass_1.mas20 prints the
# corrected line). Only this exact erratum is replaced; the 'B-' column then checks
# the alignment of every record.
_MASS_FORMAT_ERRATA = {
    "a1,i3,i5,i5,i5,1x,a3,a4,1x,f14.6,f12.6,f15.5,f11.5,1x,a2,f13.5,f11.5,1x,i3,1x,f13.6,f12.6": (
        "a1,i3,i5,i5,i5,1x,a3,a4,1x,f14.6,f12.6,f13.5,1x,f10.5,1x,a2,f13.5,f11.5,1x,i3,1x,f13.6,f12.6"
    ),
}
_RCT_KINDS = "aiai" + "ff" * 6
_EDIT_DESCRIPTOR = re.compile(r"(\d*)([aifx])(\d*)(?:\.\d+)?")
_REPEAT_GROUP = re.compile(r"(\d+)\(([^()]*)\)")
_RCT_LABEL = re.compile(r"[SQ]\([^)]*\)")

Field = tuple[str, int, int]


def fortran_fields(fmt: str) -> list[Field]:
    """Column slices of a Fortran record format such as ``a1,i3,1x,6(f12.4,f10.4)``.

    Returns one ``(kind, start, stop)`` per data field, ``kind`` in ``"a"``, ``"i"``,
    ``"f"``, with 0-based half-open character positions; ``nx`` skips advance the
    position and yield no field.
    """
    text = fmt.replace(" ", "").lower()
    while _REPEAT_GROUP.search(text):
        text = _REPEAT_GROUP.sub(lambda m: ",".join([m.group(2)] * int(m.group(1))), text)
    fields: list[Field] = []
    position = 0
    for token in text.split(","):
        match = _EDIT_DESCRIPTOR.fullmatch(token)
        if match is None:
            raise PhyslensError(f"unsupported Fortran edit descriptor {token!r}; allowed: aW, iW, fW.D, nX, n(...)")
        count, kind, width = match.groups()
        if kind == "x":
            position += int(count or 1)
            continue
        if not width:
            raise PhyslensError(f"Fortran edit descriptor {token!r} has no width; allowed: aW, iW, fW.D")
        for _ in range(int(count or 1)):
            fields.append((kind, position, position + int(width)))
            position += int(width)
    return fields


def _header_format(lines: list[str], name: str) -> tuple[list[Field], int]:
    """The parsed format line of an AME file (known errata corrected) and its line index."""
    for index, line in enumerate(lines):
        if line.strip().startswith("format") and ":" in line:
            fmt = line.split(":", 1)[1].strip()
            return fortran_fields(_MASS_FORMAT_ERRATA.get(fmt, fmt)), index
    raise PhyslensError(f"{name}: no 'format :' line in the header; an AME2020 table file is required")


def _check_kinds(fields: list[Field], expected: str, name: str) -> None:
    kinds = "".join(kind for kind, _, _ in fields)
    if kinds != expected:
        raise PhyslensError(f"{name}: format fields {kinds!r} differ from the AME2020 layout {expected!r}")


def _number(text: str) -> tuple[float, bool]:
    """A Fortran numeric field as (value, estimated); blank or ``*`` gives NaN."""
    text = text.strip()
    if not text or text == "*":
        return np.nan, False
    estimated = "#" in text
    try:
        return float(text.replace("#", ".")), estimated
    except ValueError:
        raise PhyslensError(
            f"unreadable number {text!r} in an AME table; allowed: digits with '.' or '#', or '*'"
        ) from None


def _records(
    lines: list[str], start: int, fields: list[Field], int_fields: tuple[int, ...], symbol_field: int
) -> Iterator[list[str]]:
    """Yield the fields (stripped strings) of each data line after line ``start``.

    A data line is one whose integer fields all parse and whose element field is
    alphabetic; page headers, rulers and the job footer are skipped.
    """
    for line in lines[start + 1 :]:
        line = line.rstrip("\r\n")
        values = [line[lo:hi].strip() for _, lo, hi in fields]
        if not values[symbol_field].isalpha():
            continue
        if all(re.fullmatch(r"-?\d+", values[i]) for i in int_fields):
            yield values


def parse_mass_table(text: str) -> pd.DataFrame:
    """Parse the text of ``mass.mas20`` into one row per nuclide, in file order.

    Columns: ``Z``, ``N``, ``A`` (int), ``element`` (str), ``estimated`` (bool, the mass
    excess carries ``#``), ``mass_excess``, ``mass_excess_unc``, ``B_per_A_printed``,
    ``B_per_A_printed_unc``, ``Q_beta_minus``, ``Q_beta_minus_unc``,
    ``Q_beta_minus_estimated``; energies in keV.
    """
    lines = text.splitlines()
    fields, start = _header_format(lines, _MASS_FILE)
    _check_kinds(fields, _MASS_KINDS, _MASS_FILE)
    rows = []
    for v in _records(lines, start, fields, int_fields=(1, 2, 3, 4), symbol_field=5):
        n_minus_z, n, z, a = (int(v[i]) for i in (1, 2, 3, 4))
        if n - z != n_minus_z or n + z != a or v[11] != "B-":
            raise PhyslensError(
                f"{_MASS_FILE}: inconsistent record for A={a} {v[5]}; need N-Z, N+Z=A and a 'B-' column"
            )
        delta, delta_est = _number(v[7])
        ba, _ = _number(v[9])
        qb, qb_est = _number(v[12])
        rows.append(
            {
                "Z": z,
                "N": n,
                "A": a,
                "element": v[5],
                "estimated": delta_est,
                "mass_excess": delta,
                "mass_excess_unc": _number(v[8])[0],
                "B_per_A_printed": ba,
                "B_per_A_printed_unc": _number(v[10])[0],
                "Q_beta_minus": qb,
                "Q_beta_minus_unc": _number(v[13])[0],
                "Q_beta_minus_estimated": qb_est,
            }
        )
    if not rows:
        raise PhyslensError(f"{_MASS_FILE}: no nuclide records found; an AME2020 mass table is required")
    return pd.DataFrame(rows)


def parse_reaction_table(text: str, name: str = "rct.mas20") -> pd.DataFrame:
    """Parse the text of ``rct1.mas20`` or ``rct2.mas20`` into one row per nuclide.

    Columns: ``Z``, ``N``, ``A`` (int), ``element``, and for each of the file's six
    quantities (named by ``REACTION_QUANTITIES``, e.g. ``S_2n``) the value, ``<q>_unc``
    and ``<q>_estimated``; energies in keV, NaN where the table prints ``*``.
    """
    lines = text.splitlines()
    fields, start = _header_format(lines, name)
    _check_kinds(fields, _RCT_KINDS, name)
    title = next((line for line in lines[start + 1 :] if _RCT_LABEL.search(line)), None)
    labels = _RCT_LABEL.findall(title or "")
    if len(labels) != 6 or any(label not in REACTION_QUANTITIES for label in labels):
        raise PhyslensError(f"{name}: column titles {labels} are not six of {sorted(REACTION_QUANTITIES)}")
    quantities = [REACTION_QUANTITIES[label] for label in labels]
    rows = []
    for v in _records(lines, start, fields, int_fields=(1, 3), symbol_field=2):
        a, z = int(v[1]), int(v[3])
        row: dict[str, object] = {"Z": z, "N": a - z, "A": a, "element": v[2]}
        for k, quantity in enumerate(quantities):
            value, estimated = _number(v[4 + 2 * k])
            row[quantity] = value
            row[f"{quantity}_unc"] = _number(v[5 + 2 * k])[0]
            row[f"{quantity}_estimated"] = estimated
        rows.append(row)
    if not rows:
        raise PhyslensError(f"{name}: no nuclide records found; an AME2020 reaction-energy table is required")
    return pd.DataFrame(rows)


def _read_packaged(name: str) -> str:
    return resources.files("physlens.nuclear").joinpath("data", name).read_text(encoding="ascii")


@functools.cache
def _ame2020_table() -> pd.DataFrame:
    """The full parsed and merged AME2020 table (cached; callers receive copies)."""
    table = parse_mass_table(_read_packaged(_MASS_FILE))
    z, n = table["Z"].to_numpy(), table["N"].to_numpy()
    table.insert(7, "B", z * DELTA_H_KEV + n * DELTA_N_KEV - table["mass_excess"].to_numpy())
    table.insert(8, "B_unc", table["mass_excess_unc"])
    table.insert(9, "B_per_A", table["B"] / table["A"])
    parent = table.set_index(["Z", "N"])
    ec_keys = pd.MultiIndex.from_arrays([z - 1, n + 1])
    table["Q_EC"] = -parent["Q_beta_minus"].reindex(ec_keys).to_numpy()
    table["Q_EC_unc"] = parent["Q_beta_minus_unc"].reindex(ec_keys).to_numpy()
    table["Q_EC_estimated"] = parent["Q_beta_minus_estimated"].reindex(ec_keys, fill_value=False).to_numpy(bool)
    for name in _RCT_FILES:
        reactions = parse_reaction_table(_read_packaged(name), name)
        merged = table[["Z", "N", "element"]].merge(reactions, on=["Z", "N"], how="left", suffixes=("", "_rct"))
        same_nuclides = len(reactions) == len(merged) == len(table)
        if not same_nuclides or (merged["element"] != merged["element_rct"]).any():
            raise PhyslensError(f"{name}: nuclides differ from {_MASS_FILE}; the unmodified AME2020 files are required")
        table = pd.concat([table, merged.drop(columns=["Z", "N", "A", "element", "element_rct"])], axis=1)
    return table


def load_ame2020(*, experimental_only: bool = False, zmin: int = 0, nmin: int = 0) -> pd.DataFrame:
    """AME2020 nuclides as a DataFrame, one row per nuclide (3,558 unfiltered), in file order.

    Args:
        experimental_only: keep only nuclides whose mass excess is experimental (no ``#``).
        zmin: keep Z ≥ zmin (the study uses ``STUDY_ZMIN`` = 8).
        nmin: keep N ≥ nmin (the study uses ``STUDY_NMIN`` = 8).

    Columns (all energies in keV, ``*_unc`` one-sigma uncertainties, ``*_estimated``
    True where the table prints ``#``): ``Z``, ``N``, ``A``, ``element``, ``estimated``
    (the mass excess is estimated), ``mass_excess``, ``mass_excess_unc``, ``B`` (total
    binding energy from the mass excess), ``B_unc`` (= the mass-excess uncertainty),
    ``B_per_A``, ``B_per_A_printed``, ``B_per_A_printed_unc``, ``Q_beta_minus`` (printed
    β⁻-decay energy), ``Q_EC`` (= −Q_β⁻ of the isobar (Z−1, N+1), i.e.
    Δ(Z, N) − Δ(Z−1, N+1)), and from rct1/rct2 ``S_n``, ``S_p``, ``S_2n``, ``S_2p``,
    ``Q_alpha``, ``Q_2beta_minus``, ``Q_ep``, ``Q_beta_minus_n``, ``Q_4beta_minus``,
    ``Q_d_alpha``, ``Q_p_alpha``, ``Q_n_alpha``. NaN marks a quantity that cannot be
    calculated. The table is parsed once per process; each call returns a fresh copy.
    """
    if zmin < 0 or nmin < 0:
        raise PhyslensError(f"zmin and nmin must be non-negative integers, got zmin={zmin}, nmin={nmin}")
    table = _ame2020_table()
    keep = (table["Z"] >= zmin) & (table["N"] >= nmin)
    if experimental_only:
        keep &= ~table["estimated"]
    return table[keep].reset_index(drop=True)


def separation_energies_from_masses(table: pd.DataFrame) -> pd.DataFrame:
    """One- and two-nucleon separation energies computed from the binding energies, keV.

    S_n(Z, N) = B(Z, N) − B(Z, N−1), S_p = B(Z, N) − B(Z−1, N), S_2n = B(Z, N) − B(Z, N−2),
    S_2p = B(Z, N) − B(Z−2, N), with every B taken from ``table`` (columns ``Z``, ``N``,
    ``B`` in keV): a neighbour missing from ``table`` gives NaN, so pass the unfiltered
    table to get every value the masses allow. Returns columns ``S_n``, ``S_p``,
    ``S_2n``, ``S_2p`` on ``table``'s index.
    """
    missing = {"Z", "N", "B"} - set(table.columns)
    if missing:
        raise PhyslensError(f"table lacks columns {sorted(missing)}; required: Z, N, B (keV)")
    binding = table.set_index(["Z", "N"])["B"]
    if not binding.index.is_unique:
        raise PhyslensError("table has repeated (Z, N) rows; one row per nuclide is required")
    z, n, b = table["Z"].to_numpy(), table["N"].to_numpy(), table["B"].to_numpy(float)
    shifts = {"S_n": (0, 1), "S_p": (1, 0), "S_2n": (0, 2), "S_2p": (2, 0)}
    columns = {
        name: b - binding.reindex(pd.MultiIndex.from_arrays([z - dz, n - dn])).to_numpy(float)
        for name, (dz, dn) in shifts.items()
    }
    return pd.DataFrame(columns, index=table.index)


def load_charge_radii() -> pd.DataFrame:
    """Experimental rms nuclear charge radii (Angeli & Marinova 2013), fm.

    Loaded at run time from the user's own installation of ``nucleardatapy``
    (``nucleardatapy.nuc.setupRchExp(table="2013-Angeli")``); its CC BY-NC-ND data are
    never copied into physlens. Columns ``Z``, ``N``, ``A`` (int), ``R_ch`` and
    ``R_ch_unc`` (fm). Raises ``PhyslensError`` when nucleardatapy is not installed.
    """
    try:
        import nucleardatapy
    except ImportError:
        raise PhyslensError(
            "charge radii need the optional package nucleardatapy (its data are not shipped with physlens); "
            "install it with `pip install nucleardatapy`"
        ) from None
    radii = nucleardatapy.nuc.setupRchExp(table="2013-Angeli")
    columns = {"Z": radii.nucZ, "N": radii.nucN, "A": radii.nucA, "R_ch": radii.nucRch, "R_ch_unc": radii.nucRch_err}
    frame = pd.DataFrame({k: [str(x).strip() for x in v] for k, v in columns.items()})
    return frame.astype({"Z": int, "N": int, "A": int, "R_ch": float, "R_ch_unc": float})

