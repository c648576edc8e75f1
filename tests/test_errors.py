"""The error classes carry the CLI's documented exit codes; a refused choice names what is allowed."""

import pytest

from physlens.errors import EnvironmentProblem, PhyslensError, RunFailed, check_choice


def test_exit_codes_are_the_documented_ones():
    assert (PhyslensError.exit_code, EnvironmentProblem.exit_code, RunFailed.exit_code) == (2, 3, 4)
    assert issubclass(EnvironmentProblem, PhyslensError) and issubclass(RunFailed, PhyslensError)


def test_check_choice_accepts_the_allowed_and_names_them_otherwise():
    check_choice("sampler", "local", ("local", "exchange"))
    with pytest.raises(PhyslensError) as refused:
        check_choice("sampler", "gibbs", ("local", "exchange"))
    assert str(refused.value) == "unknown sampler 'gibbs'; allowed: local, exchange"
