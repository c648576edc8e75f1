"""Tests of the SAE-steering study on tiny systems: its energies, fidelity and steering curve
against direct evaluation by exact diagonalisation-style sums, and its written outputs."""

import jax
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.hooks import Lens
from physlens.lens.sae import encode, reconstruct
from physlens.quantum.registry import build_model
from physlens.quantum.systems import HeisenbergRing, TFIMChain
from physlens.studies.sae_steering import SAEStudyConfig, analyse, resampled_check

HOOK = "hidden.pre"


def model_on(system, seed=0):
    model = build_model("rbm", alpha=1.0)
    variables = jax.tree.map(lambda p: 30 * p, model.init(jax.random.key(seed), np.ones((1, system.n_sites))))
    return model, variables


@pytest.fixture(scope="module")
def exact_study():
    system = HeisenbergRing(n=8)
    model, variables = model_on(system)
    cfg = SAEStudyConfig(hook=HOOK, d_sae=16, k=2, n_steps=150, batch_size=128, n_samples=256,
                         strengths=(0.0, 0.5, 1.0, 1.5, 2.0))
    return system, model, variables, analyse(system, model, variables, cfg)


def test_exact_energies_and_fidelity_match_direct_sums(exact_study):
    system, model, variables, study = exact_study
    lens, basis_SN = Lens(model, variables), np.asarray(system.hilbert.all_states())
    log_psi_S = np.asarray(model.apply(variables, basis_SN))
    spliced_S = np.asarray(lens.run_with_hooks(basis_SN, {HOOK: lambda x: reconstruct(study.sae, x)}))
    zero_S = np.asarray(lens.run_with_hooks(basis_SN, {HOOK: lambda x: 0 * x}))
    e_clean, e_sae, e_zero = (system.energy_of(s) for s in (log_psi_S, spliced_S, zero_S))
    assert study.exact and study.energies["clean"] == pytest.approx(e_clean, rel=1e-10)
    assert study.energies["sae"] == pytest.approx(e_sae, rel=1e-10)
    assert study.energies["zero"] == pytest.approx(e_zero, rel=1e-10)
    assert study.energy_recovered == pytest.approx((e_zero - e_sae) / (e_zero - e_clean), rel=1e-9)
    psi, phi = np.exp(log_psi_S), np.exp(spliced_S)
    assert study.fidelity == pytest.approx((psi @ phi) ** 2 / ((psi @ psi) * (phi @ phi)), rel=1e-10)


def test_matching_and_steering_follow_the_target(exact_study):
    system, model, variables, study = exact_study
    assert study.target == "abs_m_s"
    curve = study.curve
    r_F = study.match.r_FO[:, study.match.index("abs_m_s")]
    assert study.feature == int(np.argmax(np.abs(r_F)))
    latents = np.asarray(encode(study.sae, study.data.acts))
    np.testing.assert_allclose(study.latents_SF, latents, atol=1e-12)
    assert "e_loc" in study.match.observables and "e_loc" not in curve.observables
    assert curve.energies_K[2] == pytest.approx(study.energies["clean"], rel=1e-12)
    assert curve.relative_deviation_K[2] == pytest.approx(0.0, abs=1e-12)
    weights_S = np.exp(2 * np.asarray(model.apply(variables, study.data.sigma_SN)))
    assert curve.observables["abs_m_s"][2] == pytest.approx(weights_S @ study.data.observables["abs_m_s"] / weights_S.sum(),
                                                          rel=1e-10)
    row = study.summary_row()
    assert row["method"] == "exact" and row["admissible_points"] == 5
    assert row["spearman[abs_m_s]"] == pytest.approx(curve.spearman("abs_m_s"))


def test_sampled_study_reweights_from_its_samples():
    system = TFIMChain(n=8)
    model, variables = model_on(system, seed=1)
    cfg = SAEStudyConfig(hook=HOOK, d_sae=16, k=2, n_steps=150, batch_size=128, method="sampled", n_samples=256,
                         strengths=(0.5, 1.0, 1.5))
    study = analyse(system, model, variables, cfg)
    assert not study.exact and study.data.method == "sampled" and study.data.sigma_SN.shape == (256, 8)
    assert study.target == "abs_m_z"
    assert study.curve.ess_fraction_K[1] == pytest.approx(1.0)
    e_exact = system.energy_of(np.asarray(model.apply(variables, np.asarray(system.hilbert.all_states()))))
    assert abs(study.energies["clean"] - e_exact) < 5 * study.curve.energy_errors_K[1]
    assert study.curve.energies_K[1] == pytest.approx(study.energies["clean"], rel=1e-12)
    deviation_err_K = study.curve.relative_deviation_errors_K
    assert deviation_err_K[1] == pytest.approx(0.0, abs=1e-15) and np.all(deviation_err_K[[0, 2]] > 0)
    assert np.all(deviation_err_K < study.curve.energy_errors_K / abs(study.curve.energy_reference))
    check = resampled_check(study, system, model, variables, np.array([1.5]))
    assert check.resampled_K.all() and check.method_K[0] == "resampled"
    sigma = np.hypot(check.energy_errors_K[0], study.curve.energy_errors_K[2])
    assert abs(check.energies_K[0] - study.curve.energies_K[2]) < 5 * sigma


def test_bad_config_raises():
    with pytest.raises(PhyslensError):
        SAEStudyConfig(arch="gated")
    with pytest.raises(PhyslensError):
        SAEStudyConfig(method="fast")
