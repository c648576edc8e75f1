"""What a lottery study is: validation, TOML, the reference energy of a sampled study, and Barton et al.'s presets
against the networks, rounds and densities of the paper's code and figure notebooks."""

import dataclasses
import types

import jax
import numpy as np
import pytest

import physlens.studies.lottery_config as config_module
from physlens.errors import PhyslensError
from physlens.lens.mask import Mask
from physlens.lens.pruning import prune_layerwise
from physlens.studies.lottery_config import PRESETS, StudyConfig

CONFIG = StudyConfig.preset("tiny", steps=25, rounds=3)

PAPER_FIG1_CONTROL_DENSITIES = (8.8000e-01, 5.9970e-01, 4.0868e-01, 2.7850e-01, 1.8980e-01, 1.2934e-01, 8.8140e-02,
                                6.0060e-02, 4.0940e-02, 2.7900e-02, 1.9020e-02, 1.2980e-02, 8.8400e-03, 6.0200e-03,
                                4.1000e-03, 2.7800e-03, 1.8800e-03, 1.2800e-03, 8.6000e-04, 5.8000e-04, 4.0000e-04)
"""The densities of Barton et al.'s T(θ_init, m_rand) control at α = 5 on 10×10, as their ``fig_1.ipynb`` lists them."""


def test_config_validation_and_toml(tmp_path):
    with pytest.raises(PhyslensError):
        StudyConfig.preset("nope")
    with pytest.raises(PhyslensError):
        dataclasses.replace(CONFIG, rewind_step=CONFIG.steps + 1)
    with pytest.raises(PhyslensError, match="needs mode = 'sampled' training"):
        dataclasses.replace(CONFIG, evaluation="sampled")
    with pytest.raises(PhyslensError, match="allowed: exact, sampled"):
        dataclasses.replace(CONFIG, evaluation="dmrg")
    with pytest.raises(PhyslensError, match="2\\^36 basis states, more than the 262,144 an exact study sums over"):
        StudyConfig.preset("barton-6x6-a1", evaluation="exact")
    path = tmp_path / "study.toml"
    path.write_text('preset = "tiny"\nrounds = 2\nseeds = [4]\n')
    config = StudyConfig.from_toml(path)
    assert config.rounds == 2 and tuple(config.seeds) == (4,) and config.system == "tfim-chain"


@pytest.mark.parametrize("name, weights", [("barton-4x4-a1", 256), ("barton-4x4-a2.5", 640), ("barton-4x4-a5", 1280),
                                           ("barton-4x4-a8", 2048), ("barton-6x6-a1", 1296), ("barton-toric-a8", 2592),
                                           ("barton-10x10-a1", 10_000), ("barton-10x10-a2.5", 25_000),
                                           ("barton-10x10-a5", 50_000)])
def test_presets_build_the_papers_networks(name, weights):
    config = PRESETS[name]
    n_sites = config.build_system().hilbert.size
    params = config.build_model().init(jax.random.PRNGKey(2), np.ones((1, n_sites)))["params"]
    assert list(params) == ["layers.0"] and list(params["layers.0"]) == ["kernel"]
    kernel = np.asarray(params["layers.0"]["kernel"])
    assert kernel.size == config.prunable_weights == weights
    assert np.std(kernel) == pytest.approx(0.01, rel=0.1)
    assert config.prunable_weights * 0.88 ** config.rounds / n_sites < 1
    assert (config.optimizer, config.mode, config.learning_rate, config.diag_shift, config.fraction, config.rounding) == \
        ("sr", "sampled", 0.008, 1e-3, 0.12, "nearest")
    assert config.rewind_step == config.dense_steps and config.controls_from == "init"
    assert config.evaluation == ("sampled" if n_sites > 18 else "exact")     # 2^36 states on 6×6: Monte Carlo


def test_10x10_presets_are_figures_1_and_2(monkeypatch, tmp_path):
    """The paper's rounds per width (``fig_2.ipynb``: 54, 60, 65), the α = 5 controls at exactly the weight counts
    its ``fig_1.ipynb`` densities give — the 12 % ``rint`` rule applied by the library's own pruning — and E0 by
    DMRG at χ = 512, or the paper's own E0 from a TOML that names it."""
    assert [PRESETS[f"barton-10x10-a{a}"].rounds for a in ("1", "2.5", "5")] == [54, 60, 65]
    config = PRESETS["barton-10x10-a5"]
    assert (config.size, config.system_params, config.widths) == (10, {"h": 3.04438, "pbc": False}, (500,))
    assert (config.dense_steps, config.steps, config.samples, config.chains, config.discard) == (10_000, 1_000, 1024,
                                                                                                  16, 5)
    params = {"layers.0": {"kernel": np.random.default_rng(0).normal(size=(100, 500))}}
    mask, kept = Mask.ones_like(params), {}
    for level in range(1, max(config.control_levels) + 1):
        mask = prune_layerwise(params, mask, config.fraction, config.rounding)
        kept[level] = mask.kept
    assert [kept[level] for level in config.control_levels] == \
        [int(round(d * 50_000)) for d in PAPER_FIG1_CONTROL_DENSITIES]          # 44,000 … 20 weights, every one
    calls = []
    monkeypatch.setattr(config_module, "dmrg_ground_state",
                        lambda system, chi: calls.append((system.hilbert.size, chi))
                        or types.SimpleNamespace(energy=-321.1, method="DMRG (stub)"))
    problem = config.build_problem({})
    assert (problem.e0, problem.n_sites, problem.unit, calls) == (-321.1, 100, "J", [(100, 512)])
    path = tmp_path / "paper-axis.toml"
    path.write_text('preset = "barton-10x10-a5"\nreference_energy = -321.1395417101927\n'
                    'reference_source = "Barton et al., fig_1.ipynb"\n')
    paper = StudyConfig.from_toml(path).build_problem({})
    assert (paper.e0, paper.reference, len(calls)) == (-321.1395417101927, "Barton et al., fig_1.ipynb", 1)


def test_a_published_reference_needs_its_source_and_a_sampled_study():
    with pytest.raises(PhyslensError, match="needs both reference_energy and reference_source"):
        StudyConfig.preset("barton-6x6-a1", reference_energy=-115.0)
    with pytest.raises(PhyslensError, match="needs both reference_energy and reference_source"):
        StudyConfig.preset("barton-6x6-a1", reference_source="a paper")
    with pytest.raises(PhyslensError, match="evaluation = 'sampled'"):
        dataclasses.replace(CONFIG, reference_energy=-1.0, reference_source="a paper")


def test_a_sampled_study_runs_dmrg_once(monkeypatch):
    """The reference a study folder records is reused on resume; only a new folder runs DMRG, and a published
    reference replaces DMRG altogether."""
    config = StudyConfig.preset("barton-6x6-a1")
    calls = []
    monkeypatch.setattr(config_module, "dmrg_ground_state",
                        lambda system, chi: calls.append(chi) or types.SimpleNamespace(energy=-1.5, method="DMRG (stub)"))
    recorded = config.build_problem({"e0": -115.25, "reference": "DMRG (recorded)"})
    assert (recorded.e0, recorded.reference, calls) == (-115.25, "DMRG (recorded)", [])
    fresh = config.build_problem({})
    assert (fresh.e0, fresh.reference, calls) == (-1.5, "DMRG (stub)", [256])
    assert (fresh.samples, fresh.chains, fresh.n_sites, fresh.unit) == (16_384, 16, 36, "J")
    published = dataclasses.replace(config, reference_energy=-115.0, reference_source="a paper, its Table 1")
    assert (published.build_problem({}).e0, published.build_problem({}).reference, calls) == \
        (-115.0, "a paper, its Table 1", [256])
