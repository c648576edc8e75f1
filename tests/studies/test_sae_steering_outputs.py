"""Tests of the written folder of an SAE-steering study: every file present, the numbers in RESULTS.md those
of the study, and the feature pages in the documented order."""

import jax
import numpy as np
import pytest

from physlens.quantum.registry import build_model
from physlens.quantum.systems import HeisenbergRing
from physlens.studies.sae_steering import SAEStudyConfig, analyse
from physlens.studies.sae_steering_outputs import dashboard_features, results_markdown, write_outputs


@pytest.fixture(scope="module")
def study():
    system = HeisenbergRing(n=6)
    model = build_model("rbm", alpha=1.0)
    variables = jax.tree.map(lambda p: 30 * p, model.init(jax.random.key(0), np.ones((1, system.n_sites))))
    cfg = SAEStudyConfig(hook="hidden.pre", d_sae=8, k=2, n_steps=100, batch_size=64, n_samples=128,
                         strengths=(0.0, 1.0, 2.0))
    return analyse(system, model, variables, cfg)


def test_outputs_are_written(study, tmp_path):
    report = write_outputs(study, tmp_path / "ring6", "test", ["exact"], n_features=2)
    assert report.is_file() and "feature_" in report.read_text()
    results = (tmp_path / "ring6" / "RESULTS.md").read_text()
    assert f"{study.fidelity:.5f}" in results and f"{study.curve.max_relative_deviation:.3e}" in results
    assert (tmp_path / "ring6" / "sae" / "cfg.json").is_file()
    assert len(list((tmp_path / "ring6" / "features").glob("feature_*.html"))) == 2


def test_dashboards_start_with_the_steered_feature_then_each_observables_best(study):
    picks = dashboard_features(study, n_features=64)
    assert picks[0] == study.feature and len(picks) == len(set(picks)) == study.config.d_sae
    best = [int(f) for f in study.match.best_feature_O]
    assert picks[1:1 + len(set(best) - {study.feature})] == list(dict.fromkeys(f for f in best if f != study.feature))


def test_results_markdown_states_the_method_and_every_observable(study):
    text = results_markdown(study, "ring")
    assert text.startswith("# ring") and "full sums over the basis" in text
    for i, name in enumerate(study.match.observables):
        assert f"| best \\|r\\| for `{name}` | {study.match.best_abs_r_O[i]:.4f} |" in text
