"""The SAE sweep on a tiny exact system: one complete row per SAE, energies and probes against direct sums, resume."""

import jax
import numpy as np
import pandas as pd
import pytest

from physlens.errors import PhyslensError
from physlens.lens.hooks import Lens
from physlens.lens.probes import linear_probe
from physlens.quantum.config_observables import observable_table
from physlens.quantum.registry import build_model
from physlens.quantum.systems import HeisenbergRing
from physlens.studies import sae_sweep
from physlens.studies.sae_sweep import SweepConfig, parse_spec, run_sweep

HOOK = "hidden.pre"
SYSTEM = HeisenbergRing(n=8)
MODEL = build_model("rbm", alpha=1.0)
VARIABLES = jax.tree.map(lambda p: 30 * p, MODEL.init(jax.random.key(0), np.ones((1, 8))))
CONFIG = SweepConfig(hooks=(HOOK,), saes=("topk:16:2", "relu:16:1e-3", "jumprelu:8:1e-3"), n_steps=60, batch_size=64,
                     n_samples=128)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    return out, run_sweep(SYSTEM, MODEL, VARIABLES, CONFIG, out)


def test_one_complete_row_per_sae(sweep):
    out, frame = sweep
    written = pd.read_csv(out / "sweep.csv")
    assert list(written.sae) == list(CONFIG.saes) and len(written) == 3
    assert not written.drop(columns=["split_combined_r"]).isna().any().any()
    for name in ("l0", "explained_variance", "dead_fraction", "energy_recovered", "fidelity", "best_abs_r[abs_m_s]",
                 "latent_probe_r[abs_m_s]", "probe_ceiling_r[abs_m_s]", "split_n"):
        assert name in written.columns
    assert (written.method == "exact").all() and (written["l0"][written.arch == "topk"] <= 2 + 1e-9).all()
    assert (written["best_abs_r[abs_m_s]"] <= written["latent_probe_r[abs_m_s]"] + 1e-9).all()


def test_probe_ceiling_is_a_least_squares_fit_of_the_exact_activations(sweep):
    _, frame = sweep
    basis = np.asarray(SYSTEM.hilbert.all_states())
    _, cache = Lens(MODEL, VARIABLES).run_with_cache(basis, [HOOK])
    log_psi = np.asarray(MODEL.apply(VARIABLES, basis))
    born = np.exp(2 * (log_psi - log_psi.max()))
    target = observable_table(SYSTEM, basis).values["abs_m_s"]
    expected = linear_probe(np.asarray(cache[HOOK]), target, born).r
    assert frame["probe_ceiling_r[abs_m_s]"].iloc[0] == pytest.approx(expected, abs=1e-10)


def test_a_rerun_resumes_without_retraining(sweep, monkeypatch):
    out, frame = sweep
    monkeypatch.setattr(sae_sweep, "_row", lambda *a, **k: pytest.fail("retrained a finished SAE"))
    again = run_sweep(SYSTEM, MODEL, VARIABLES, CONFIG, out)
    pd.testing.assert_frame_equal(again.reset_index(drop=True), pd.read_csv(out / "sweep.csv"))


@pytest.mark.parametrize("spec", ["topk:64", "topk:4:8", "relu:64:-1", "gated:64:1", "relu:x:1", "relu:64:1e-3:0.03",
                                  "jumprelu:64:1e-3:0", "jumprelu:64:1e-3:0.03:1"])
def test_bad_specs_are_refused(spec):
    with pytest.raises(PhyslensError):
        parse_spec(spec)


def test_a_jumprelu_spec_carries_its_initial_threshold_into_the_sae():
    assert parse_spec("jumprelu:64:1e-2") == ("jumprelu", 64, 1e-2, 1e-3)
    cfg = SweepConfig().study_config("resid.final", "jumprelu:32:1e-2:0.03").sae_config(16)
    assert (cfg.d_sae, cfg.l0_coefficient, cfg.initial_threshold) == (32, 1e-2, 0.03)
