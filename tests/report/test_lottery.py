"""Tests of physlens.report.lottery: the Monte Carlo band of a sampled error curve, the tables' digits."""

from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection

from physlens.report.lottery import LotterySummary, error_curve, monte_carlo_band


def _curve(sem: list[float] | None) -> pd.DataFrame:
    rows = {"level": [0, 1, 2], "arm": ["imp"] * 3, "density": [1.0, 0.88, 0.77],
            "median": [2e-5, 4e-5, 1e-3], "low": [2e-5, 4e-5, 1e-3], "high": [2e-5, 4e-5, 1e-3], "seeds": [1] * 3}
    return pd.DataFrame(rows if sem is None else {**rows, "rel_sem": sem})


def test_band_is_median_plus_minus_sem_floored_where_unresolved():
    lower, upper = monte_carlo_band(_curve([3e-5, 1e-5, 2e-5]))
    # 2e-5 - 3e-5 < 0: not resolved from zero, drawn at a tenth of the smallest median (2e-6).
    np.testing.assert_allclose(lower, [2e-6, 3e-5, 9.8e-4])
    np.testing.assert_allclose(upper, [5e-5, 5e-5, 1.02e-3])


def _bands(curve: pd.DataFrame) -> list[PolyCollection]:
    fig = error_curve(SimpleNamespace(curve=curve, fit=None, dense_error=2e-5))
    bands = [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    plt.close(fig)                    # pyplot is shared by every test of a worker (test_html checks none stay open)
    return bands


def test_sampled_curve_draws_its_band_and_exact_curve_none():
    bands = _bands(_curve([3e-5, 1e-5, 2e-5]))
    assert len(bands) == 1
    ys = bands[0].get_paths()[0].vertices[:, 1]
    np.testing.assert_allclose([ys.min(), ys.max()], [2e-6, 1.02e-3])
    assert _bands(_curve(None)) == []


def _write(folder, observables: pd.DataFrame) -> bytes:
    tables = SimpleNamespace(curve=_curve(None), claims=pd.DataFrame({"question": ["q"], "answer": ["no"]}),
                             extent=SimpleNamespace(to_frame=lambda: pd.DataFrame({"unit": [0]})), fit=None,
                             transition=None, overlap=None, observables=observables, terms=None,
                             terms_random=None)
    LotterySummary.write_tables(tables, folder)
    return (folder / "observables.csv").read_bytes()


def test_tables_do_not_change_with_the_last_bits_of_a_recomputed_sum(tmp_path):
    m_z = np.array([1.4108998538895495e-4, 0.3020897484229855])
    first = _write(tmp_path, pd.DataFrame({"m_z": m_z}))
    again = _write(tmp_path, pd.DataFrame({"m_z": m_z * (1 + 4e-16)}))
    assert first == again
    np.testing.assert_allclose(pd.read_csv(tmp_path / "observables.csv").m_z, m_z, rtol=0, atol=1e-12)


def test_near_zero_magnetisations_do_not_change_with_the_order_of_summation(tmp_path):
    m_z = np.array([-1.39773455703e-06, 0.175800990559, 2e-17])
    first = _write(tmp_path, pd.DataFrame({"m_z": m_z}))
    again = _write(tmp_path, pd.DataFrame({"m_z": m_z + np.array([9e-17, -3e-17, -4e-17])}))
    assert first == again and first.decode().splitlines()[-1] == "0"
    np.testing.assert_allclose(pd.read_csv(tmp_path / "observables.csv").m_z, m_z, rtol=0, atol=1e-12)


def test_controls_at_chosen_levels_are_points_and_iterative_arms_lines_from_dense():
    curve = pd.concat([_curve(None),
                       pd.DataFrame({"level": [2], "arm": ["reinit"], "density": [0.77], "median": [3e-3],
                                     "low": [3e-3], "high": [3e-3], "seeds": [1]}),
                       pd.DataFrame({"level": [1, 2], "arm": ["random_prune"] * 2, "density": [0.88, 0.77],
                                     "median": [1e-4, 1e-2], "low": [1e-4, 1e-2], "high": [1e-4, 1e-2], "seeds": [1] * 2})])
    fig = error_curve(SimpleNamespace(curve=curve, fit=None, dense_error=2e-5))
    drawn = {bars.get_label(): bars.lines[0] for bars in fig.axes[0].containers}
    plt.close(fig)
    reinit = next(line for label, line in drawn.items() if "θ_rand" in label)
    assert reinit.get_linestyle() == "None" and reinit.get_marker() == "D" and len(reinit.get_xdata()) == 1
    joined = [line for line in drawn.values() if line.get_linestyle() == "-"]
    assert len(joined) == 2 and all(list(line.get_xdata()) == [0.77, 0.88, 1.0] for line in joined), (
        "imp and random_prune: from the dense level through both pruned levels")
