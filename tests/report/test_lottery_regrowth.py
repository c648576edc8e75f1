"""Tests of physlens.report.lottery_regrowth: each climb drawn against the IMP tickets of its own seed."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from physlens.report.lottery_regrowth import COLUMNS, regrowth_figure, regrowth_section


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two climbs (seed 0 from level 3, seed 1 from level 2) and IMP/reinit observables of both seeds, levels 0–4."""
    climbs = []
    for seed, top in ((0, 3), (1, 2)):
        for level in range(top - 1, -1, -1):
            climbs.append({"climb": f"regrowth-s{seed}-from-{top}", "level": level, "rho": 8.0 * 0.88 ** level,
                           "error_down": 1e-4 * (1 + level + 10 * seed), "error_up": 2e-4 * (1 + level + 10 * seed),
                           "ratio": 2.0, "abs_m_z": 0.5 + 0.01 * level + seed, "fidelity_dense": 0.9})
    observables = pd.DataFrame([{"arm": arm, "seed": seed, "level": level, "rho": 8.0 * 0.88 ** level,
                                 "abs_m_z": 0.1 * level + seed + (5.0 if arm == "reinit" else 0.0)}
                                for arm in ("imp", "reinit") for seed in (0, 1) for level in range(5)])
    return pd.DataFrame(climbs), observables


def test_each_climb_is_drawn_beside_its_own_seeds_imp_tickets():
    regrowth, observables = _frames()
    fig = regrowth_figure(regrowth, observables)
    left, right = fig.axes[:2]
    assert [line.get_label() for line in left.get_lines()] == [
        "regrowth-s0-from-3: IMP, down", "regrowth-s0-from-3: regrown, up",
        "regrowth-s1-from-2: IMP, down", "regrowth-s1-from-2: regrown, up"]
    up_s1 = left.get_lines()[3]
    np.testing.assert_allclose(up_s1.get_xdata(), 8.0 * 0.88 ** np.array([1, 0]))
    np.testing.assert_allclose(up_s1.get_ydata(), 2e-4 * np.array([12, 11]))
    # ⟨|m_z|⟩ on the way down: seed 1's IMP tickets at the climb's levels and the ticket it started from (level 2),
    # never the reinit arm's or seed 0's.
    down_s1 = right.get_lines()[2]
    np.testing.assert_allclose(down_s1.get_xdata(), 8.0 * 0.88 ** np.array([2, 1, 0]))
    np.testing.assert_allclose(down_s1.get_ydata(), [1.2, 1.1, 1.0])
    plt.close(fig)


def test_section_tabulates_every_climb_with_its_labels():
    regrowth, observables = _frames()
    section = regrowth_section(regrowth, observables)
    table = section.tables[0]
    assert list(table.frame.columns) == list(COLUMNS) and len(table.frame) == len(regrowth)
    assert table.labels == COLUMNS and len(section.figures) == 1
