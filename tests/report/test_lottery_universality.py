"""Universality section: IMP scaling regions converted from remaining fraction to weights per spin."""

from types import SimpleNamespace

import pandas as pd
import pytest

from physlens.lens.piecewise import PiecewiseFit
from physlens.quantum.systems import TFIMSquare
from physlens.report.lottery_universality import breakpoints_frame, same_system, universality_section


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


def test_only_studies_on_the_first_system_are_drawn():
    chosen = same_system({"a": summary(16), "b": summary(32), "c": summary(16, system="toric-code")})
    assert list(chosen) == ["a", "b"]
    adam = summary(128)
    adam.study["training_method"] = "Adam on exact full-sum gradients"
    assert list(same_system({"a": summary(16), "b": adam, "c": summary(32)})) == ["a", "c"]
    section = universality_section({"a": summary(16), "b": summary(32)})
    assert len(section.figures) == 1 and "2 widths" in section.text
