"""Tests of physlens.report.lottery_observables: the IMP tickets' magnetisations and fidelities, and how obtained."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from physlens.quantum.magnetisation import MAGNETISATIONS
from physlens.report.lottery_observables import observables_figure, observables_section


def _frame(method: str | None) -> pd.DataFrame:
    rows = [{"arm": arm, "seed": seed, "level": level, "rho": 8.0 * 0.88 ** level, "m_z": 0.0,
             "abs_m_z": 0.3 + 0.01 * level + 0.1 * seed, "m_z_sq": 0.2, "m_x": 0.8, "fidelity_dense": 1.0 - 0.01 * level,
             "fidelity_previous": 1.0} for arm in ("imp", "random_mask") for seed in (0, 1) for level in range(4)]
    frame = pd.DataFrame(rows)
    return frame if method is None else frame.assign(method=method)


def test_every_seeds_tickets_drawn_once_per_quantity_and_named_once():
    fig = observables_figure(_frame(None))
    left, right = fig.axes[:2]
    assert len(left.get_lines()) == 2 * len(MAGNETISATIONS) and len(right.get_lines()) == 2 * 2
    assert [t.get_text() for t in left.get_legend().get_texts()] == list(MAGNETISATIONS.values())
    abs_m_z_seed_1 = left.get_lines()[3]
    np.testing.assert_allclose(abs_m_z_seed_1.get_ydata(), 0.4 + 0.01 * np.arange(4))
    assert left.get_ylabel() == "magnetisation per spin (exact)"
    plt.close(fig)


def test_section_shows_only_imp_rows_and_says_how_they_were_obtained():
    exact = observables_section(_frame(None))
    assert set(exact.tables[0].frame.columns).isdisjoint({"arm", "method"}) and len(exact.tables[0].frame) == 8
    assert "by full sums over the basis" in exact.text and "(exact)" in exact.tables[0].caption
    sampled = observables_section(_frame("Monte Carlo, 4096 samples"))
    assert "estimated by sampling (Monte Carlo, 4096 samples" in sampled.text
    assert "(Monte Carlo)" in sampled.tables[0].caption
