"""The magnetisation-jump claim and the transition of ``physlens.studies.lottery_summary`` on curves with known
shapes."""

import numpy as np
import pandas as pd

from physlens.lens.piecewise import RESOLVED_SEMS
from physlens.studies.lottery_summary import _claims, _curve, _finished_controls, _jump_claim, _transition


def _observables(abs_m_z: np.ndarray, m_z: np.ndarray | None = None) -> pd.DataFrame:
    levels = np.arange(len(abs_m_z))
    return pd.DataFrame({"level": levels, "arm": "imp", "seed": 0, "rho": 128 * 0.88 ** levels, "abs_m_z": abs_m_z,
                         "m_x": 1 - abs_m_z, "m_z": np.zeros_like(abs_m_z) if m_z is None else m_z})


def test_a_step_is_a_jump_wherever_it_sits():
    order = np.r_[np.full(6, 0.303), np.full(6, 0.21)] + np.linspace(0, 0.004, 12)
    claim = _jump_claim(_observables(order))
    assert claim["answer"] == "yes"
    rho = 128 * 0.88 ** np.arange(12)
    assert f"between rho {rho[5]:.3g} and {rho[6]:.3g}" in claim["detail"]


def test_a_ramp_is_not_a_jump_and_the_share_is_reported():
    claim = _jump_claim(_observables(np.linspace(0.303, 0.196, 11)))
    assert claim["answer"] == "no"
    assert "(10% of the whole 0.107)" in claim["detail"]


def test_one_large_step_beside_another_as_large_is_not_a_jump():
    order = np.array([0.30, 0.30, 0.25, 0.25, 0.20, 0.20])
    assert _jump_claim(_observables(order))["answer"] == "no"


def test_the_largest_signed_magnetisation_is_located():
    m_z = np.array([0.0, 0.001, -0.058, 0.02, 0.0])
    claim = _jump_claim(_observables(np.linspace(0.3, 0.2, 5), m_z))
    assert f"largest signed <m_z> -0.058 at rho {128 * 0.88 ** 2:.3g}" in claim["detail"]


def test_too_few_levels_are_not_measured():
    assert _jump_claim(_observables(np.array([0.3, 0.2])))["answer"] == "not measured"


def _levels(error: list[float], sem: list[float] | None) -> pd.DataFrame:
    frame = pd.DataFrame({"level": range(len(error)), "arm": "imp", "seed": 0,
                          "density": 0.88 ** np.arange(len(error)), "rel_error": error})
    return frame if sem is None else frame.assign(rel_sem=sem)


def test_a_monte_carlo_transition_skips_errors_within_noise_of_zero():
    error = [3.5e-5, 2.8e-5, 1.0e-4, 3.4e-5, 2.4e-3, 7.7e-3, 1.1e-2]
    sem = [2.2e-5, 2.1e-5, 2.2e-5, 2.6e-5, 1.0e-4, 1.5e-4, 2.0e-4]
    assert error[2] > RESOLVED_SEMS * sem[2] and error[3] < RESOLVED_SEMS * sem[3]
    exact = _transition(_levels(error, None), _curve(_levels(error, None)))
    assert exact.density_before == 0.88 ** 3                             # 3.4e-5 → 2.4e-3 counts when exact
    sampled = _transition(_levels(error, sem), _curve(_levels(error, sem)))
    assert (sampled.density_before, sampled.density_after) == (0.88 ** 4, 0.88 ** 5)
    np.testing.assert_allclose(sampled.jump_decades, np.log10(7.7e-3 / 2.4e-3), rtol=1e-12)


def test_no_two_neighbouring_resolved_levels_leave_no_transition():
    error, sem = [3e-5, 1e-4, 3e-5, 1e-4], [2e-5, 2e-5, 2e-5, 2e-5]
    assert _transition(_levels(error, sem), _curve(_levels(error, sem))) is None


def _two_arms(imp_L: list[float], irp_L: list[float]) -> pd.DataFrame:
    """A curve with the dense level and the IMP and iterative-random-pruning medians of levels 1, 2, …"""
    rows = [{"arm": "imp", "level": 0, "density": 1.0, "median": 1e-7}]
    for arm, errors in (("imp", imp_L), ("random_prune", irp_L)):
        rows += [{"arm": arm, "level": k + 1, "density": 0.88 ** (k + 1), "median": e} for k, e in enumerate(errors)]
    return pd.DataFrame(rows)


def _random_pruning_answer(curve: pd.DataFrame) -> pd.Series:
    claims = _claims(curve, dense=1e-7)
    return claims[claims.question.str.startswith("Iterative random pruning")].iloc[0]


def test_random_pruning_that_leaves_twice_dense_before_imp_answers_yes_at_its_first_such_level():
    row = _random_pruning_answer(_two_arms([1.1e-7, 1.5e-7, 3e-7], [1.9e-7, 2.5e-7, 9e-7]))
    assert row.answer == "yes"
    assert "first leaves it at density 0.7744" in row.detail and "(1.50x)" in row.detail
    assert row.detail.endswith("IMP first leaves it at density 0.6815")


def test_random_pruning_within_twice_dense_so_far_is_not_measured_and_leaving_with_imp_is_no():
    assert _random_pruning_answer(_two_arms([1.1e-7, 1.2e-7], [1.5e-7, 1.9e-7])).answer == "not measured"
    assert _random_pruning_answer(_two_arms([1.1e-7, 3e-7], [1.5e-7, 2.5e-7])).answer == "no"
    without = _claims(_two_arms([1.1e-7, 1.2e-7], []), dense=1e-7)
    assert not without.question.str.startswith("Iterative random pruning").any(), "no arm, no claim"


def test_claims_compare_controls_only_at_levels_every_seed_finished():
    rows = [(0, "imp", s, 1.0, 1e-6) for s in (0, 1)]
    rows += [(1, arm, s, 0.88, e) for s in (0, 1) for arm, e in (("imp", 1e-5), ("init_imp", 1e-5), ("reinit", 3e-5))]
    rows += [(2, "imp", s, 0.77, 1e-4) for s in (0, 1)] + [(2, "reinit", 0, 0.77, 1e-4)]   # stopped after one control
    levels = pd.DataFrame(rows, columns=["level", "arm", "seed", "density", "rel_error"])
    kept, unfinished = _finished_controls(levels)
    assert len(kept) == len(levels) - 1 and not ((kept.level == 2) & (kept.arm == "reinit")).any() and unfinished == [2]
    claim = _claims(_curve(kept), 1e-6, unfinished).set_index("question").filter(like="theta_rand", axis=0).iloc[0]
    assert claim.answer == "no"
    assert claim.detail == ("ratio of the median errors reinit/init_imp per level (remaining fraction: ratio): 0.880: 3.00; the "
                            "controls of level 2 left out (not finished for every seed)")
