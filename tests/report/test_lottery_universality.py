"""Universality section: IMP scaling regions converted from remaining fraction to weights per spin."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from physlens.lens.piecewise import PiecewiseFit
from physlens.quantum.systems import TFIMSquare
from physlens.report.lottery_universality import (breakpoints_frame, crossing_rho, crossings_frame, families,
                                                  universality_section)


def summary(width: int, system: str = "tfim-square", breakpoint: float = 0.25):
    curve = pd.DataFrame({"level": [0, 1, 2], "arm": "imp", "density": [1.0, 0.5, 0.25], "median": [1e-4, 1e-3, 1e-2],
                          "low": [1e-4, 8e-4, 9e-3], "high": [2e-4, 2e-3, 2e-2], "seeds": 3})
    fit = PiecewiseFit(breakpoints=(breakpoint,), exponents=(-1.0, -3.0), coef=(0.0, -1.0, -2.0), sse=0.0, bic=0.0, n=3)
    return SimpleNamespace(study={"system": system, "size": 4, "widths": [width]}, curve=curve, fit=fit,
                           system=TFIMSquare(4))


def test_breakpoints_are_converted_to_weights_per_spin():
    frame = breakpoints_frame({"a1": summary(16), "a8": summary(128, breakpoint=0.03125)})
    a1, a8 = frame[frame.study == "a1"], frame[frame.study == "a8"]
    assert a1.alpha.iloc[0] == 1 and a8.alpha.iloc[0] == 8
    assert a1.rho_high.iloc[0] == pytest.approx(4.0) and a8.rho_high.iloc[0] == pytest.approx(4.0)
    assert a1.rho_high.iloc[-1] == pytest.approx(16.0) and list(a1.exponent) == [-1.0, -3.0]


def test_a_family_is_one_system_trained_one_way_at_two_widths_or_more():
    adam = summary(128)
    adam.study["training_method"] = "Adam on exact full-sum gradients"
    chosen = families({"a": summary(16), "b": summary(32), "c": summary(16, system="toric-code"), "d": adam})
    assert [list(f) for f in chosen] == [["a", "b"]]
    adam_16 = summary(16)
    adam_16.study["training_method"] = adam.study["training_method"]
    chosen = families({"a": summary(16), "b": adam, "c": summary(32), "d": adam_16, "e": summary(16)})
    assert [list(f) for f in chosen] == [["a", "c", "e"], ["b", "d"]]
    assert families({"a": summary(16), "e": summary(16)}) == []
    section = universality_section(chosen[0])
    assert len(section.figures) == 1 and "2 widths" in section.text


def test_crossing_is_read_off_by_log_log_interpolation():
    rho, error = np.array([16.0, 8.0, 4.0, 2.0]), np.array([1e-5, 1e-4, 1e-2, 4e-2])
    # between (8, 1e-4) and (4, 1e-2): log error falls linearly in log ρ, 1e-3 sits half-way, at ρ = √32
    assert crossing_rho(rho, error, 1e-3) == pytest.approx(np.sqrt(32.0), rel=1e-12)
    assert crossing_rho(rho, error, 1e-2) == pytest.approx(4.0, rel=1e-12)
    assert np.isnan(crossing_rho(rho, error, 1e-1)) and np.isnan(crossing_rho(rho, error, 1e-6))
    frame = crossings_frame({"a1": summary(16), "a8": summary(128)})
    # the fixture's medians 1e-4, 1e-3, 1e-2 at densities 1, 0.5, 0.25 reach each level exactly at a level's ρ
    assert list(frame["rho_at_0.0001"]) == pytest.approx([16.0, 128.0])
    assert list(frame["rho_at_0.001"]) == pytest.approx([8.0, 64.0]) and frame["rho_at_0.01"].isna().all()
