"""Tests of physlens.report.lottery_terms: the first lost term per seed, ringed where the table says."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from physlens.report.lottery_terms import first_lost, terms_figure, terms_section


def _terms(term: str = "bond") -> pd.DataFrame:
    covered = {0: [24, 24, 22, 20], 1: [24, 23, 22, 20], 2: [24, 24, 24, 24]}
    return pd.DataFrame([{"seed": seed, "level": level, "rho": 8 * 0.88 ** level, "rel_error": 1e-3 * (1 + level + seed),
                          "term": term, "terms": 24, "terms_covered": count, "units_alive": 30, "term_units": 25,
                          "single_site_units": 5, "other_pair_units": 0, "wider_units": 0}
                         for seed, counts in covered.items() for level, count in enumerate(counts)])


def test_first_lost_term_per_seed_and_seeds_that_keep_every_term_left_out():
    lost = first_lost(_terms())
    assert lost.seed.tolist() == [0, 1] and lost.level.tolist() == [2, 1]


def test_the_rings_sit_on_each_seeds_first_lost_term():
    fig = terms_figure(_terms())
    rings = [line for line in fig.axes[1].get_lines() if line.get_marker() == "o" and line.get_linestyle() == "None"]
    np.testing.assert_allclose([r.get_xdata()[0] for r in rings], [8 * 0.88 ** 2, 8 * 0.88])
    np.testing.assert_allclose([r.get_ydata()[0] for r in rings], [3e-3, 3e-3])
    plt.close(fig)
    section = terms_section(_terms())
    assert len(section.tables[0].frame) == 2 and len(section.tables[1].frame) == 12
    rescue = pd.DataFrame({"seed": 0, "arm": ["imp", "imp", "term", "control"], "level": [1, 2, 2, 2],
                           "rho": [7.0, 6.2, 6.3, 6.3], "weights_added": [0, 0, 1, 1],
                           "rel_error": [1.4e-3, 4e-3, 1.4e-3, 3.9e-3], "term": "bond", "lost_terms": "2-3", "units_given": "one"})
    with_rescue = terms_section(_terms(), rescue)
    assert [len(t.frame) for t in with_rescue.tables] == [2, 4, 12]


def test_the_section_names_the_terms_it_counts():
    section = terms_section(_terms("plaquette"))
    assert section.title == "Which plaquettes of the Hamiltonian the tickets span"
    assert section.tables[0].labels["terms_covered"] == "plaquettes spanned"
    plt.close("all")


def test_iterative_random_pruning_is_drawn_beside_imp_with_its_own_first_lost_terms():
    random = _terms().assign(terms_covered=lambda t: t.terms_covered - 2 * t.level)   # loses bonds sooner
    fig = terms_figure(_terms(), random)
    orange = [line for ax in fig.axes for line in ax.get_lines() if line.get_color() == "#e67e22"]
    spanned = [line for line in orange if "spanned" in line.get_label()]
    assert len(spanned) == 3 and len(orange) == 6, "one spanned-count and one error line per seed"
    np.testing.assert_array_equal(spanned[0].get_ydata(), random[random.seed == 0].sort_values("level").terms_covered)
    plt.close(fig)
    section = terms_section(_terms(), random=random)
    assert [len(t.frame) for t in section.tables] == [2, 3, 12]
    assert section.tables[1].frame.level.tolist() == [1, 1, 1], "random pruning's first lost bond per seed"
    plt.close("all")
