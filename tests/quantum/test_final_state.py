"""The final-state summary of a training run: ε, the collapse test, and how basis sizes are written."""


import pytest

from physlens.quantum.final_state import COLLAPSE_EPS, collapse_reason, count_words, relative_error


def test_count_words_for_huge_bases():
    assert count_words(70) == "70"
    assert count_words(2**10000) == "about 10^3010"


def test_relative_error():
    assert relative_error(-3.0, -4.0) == pytest.approx(0.25)
    assert relative_error(-3.0, None) is None


def test_collapse_needs_a_large_error_and_a_concentrated_state():
    assert collapse_reason(0.46, -1.5, 1.5, 1.14).startswith("collapsed: ε = 0.46, the state sits on 1.14 configuration(s)")
    assert collapse_reason(0.46, -1.5, 0.0, None).startswith("collapsed:")
    assert collapse_reason(1e-5, -2.8, 0.0, 1.0) == "", "a converged state on few configurations is not a collapse"
    assert collapse_reason(0.5, -1.5, 2.0, 40.0) == "", "a poor but spread-out state is not a collapse"
    assert collapse_reason(2 * COLLAPSE_EPS, -1.5, 1.0, 2.0) != ""
    assert collapse_reason(None, -1.5, 0.0, 1.0) != "" and collapse_reason(None, -1.5, 0.0, 30.0) == ""
