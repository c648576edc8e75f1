"""Tests of SAE feature steering: exact identity, batched exact curves against a direct
evaluation, and reweighted curves against exact ones on a 16-spin ring."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.evaluate import ExactEvaluator
from physlens.lens.hooks import Lens
from physlens.lens.interventions import HookEdit, LensLogPsi
from physlens.lens.sae import TopKConfig, decode, encode, init_sae
from physlens.lens.sampled import SampledEvaluator
from physlens.lens.steering import SAELogPsi, SteeringCurve, admissible_range, steering_curve, steering_edits
from physlens.quantum.registry import build_model
from physlens.quantum.observables import staggered_magnetisation_per_config
from physlens.quantum.systems import HeisenbergRing

HOOK = "hidden.pre"


@pytest.fixture(scope="module")
def setup():
    """A random RBM (α = 1) on the 16-site ring, a freshly initialised TopK SAE on its pre-activations, and the
    most frequently firing feature that is not always on."""
    system = HeisenbergRing(n=16)
    basis_SN = np.asarray(system.hilbert.all_states())
    model = build_model("rbm", alpha=1.0)
    variables = jax.tree.map(lambda p: 20 * p, model.init(jax.random.key(1), basis_SN[:2]))
    lens = Lens(model, variables)
    log_psi_S, cache = jax.jit(lambda s: lens.run_with_cache(s, [HOOK]))(basis_SN)
    acts_SD = np.asarray(cache[HOOK])
    sae = init_sae(TopKConfig(d_in=16, d_sae=32, k=4), acts_SD, jax.random.key(2))
    prob_S = np.exp(2 * (np.asarray(log_psi_S) - np.max(log_psi_S)))
    prob_S /= prob_S.sum()
    freq_F = prob_S @ (np.asarray(encode(sae, acts_SD)) > 0)
    feature = int(np.argmax(np.where(freq_F < 0.9, freq_F, 0)))
    ms_S = np.abs(staggered_magnetisation_per_config(system, basis_SN))
    log_psi = SAELogPsi(lens, sae, HOOK)
    evaluator = ExactEvaluator(log_psi, basis_SN, system.sparse_hamiltonian(), {"ms": ms_S}, unit="J")
    return dict(system=system, basis_SN=basis_SN, lens=lens, sae=sae, log_psi_S=np.asarray(log_psi_S), prob_S=prob_S,
                feature=feature, ms_S=ms_S, log_psi=log_psi, evaluator=evaluator)


def one_edit(edit_KF: HookEdit, k: int) -> HookEdit:
    return jax.tree.map(lambda a: a[k], edit_KF)


def test_identity_edit_reproduces_the_model_exactly(setup):
    edit = one_edit(steering_edits(HOOK, setup["feature"], np.ones(1), 32, "scale"), 0)
    steered_S = jax.jit(setup["log_psi"].bind(edit))(setup["basis_SN"])
    np.testing.assert_array_equal(np.asarray(steered_S), setup["log_psi_S"])
    zero_add = one_edit(steering_edits(HOOK, setup["feature"], np.zeros(1), 32, "add"), 0)
    np.testing.assert_array_equal(np.asarray(jax.jit(setup["log_psi"].bind(zero_add))(setup["basis_SN"])), setup["log_psi_S"])


def test_edits_act_on_one_latent_as_their_mode_says():
    z_BF = np.abs(np.random.default_rng(0).normal(size=(5, 8)))
    for mode, expected in (("scale", 2.5 * z_BF[:, 3]), ("clamp", np.full(5, 2.5)), ("add", z_BF[:, 3] + 2.5)):
        out_BF = np.asarray(one_edit(steering_edits("h", 3, np.array([2.5]), 8, mode), 0)(z_BF))
        np.testing.assert_allclose(out_BF[:, 3], expected)
        np.testing.assert_array_equal(np.delete(out_BF, 3, axis=1), np.delete(z_BF, 3, axis=1))


def test_batched_exact_curve_matches_direct_evaluation(setup):
    strengths = np.array([0.0, 0.5, 1.0, 2.0])
    curve = steering_curve(setup["evaluator"], HOOK, setup["feature"], strengths[::-1])
    np.testing.assert_array_equal(curve.strengths_K, strengths)
    h = setup["system"].sparse_hamiltonian()
    edits = steering_edits(HOOK, setup["feature"], strengths, 32, "scale")
    for k in (0, 3):
        lens, sae = setup["lens"], setup["sae"]

        def by_hand(x, k=k):
            z = encode(sae, x)
            return x + decode(sae, z.at[..., setup["feature"]].multiply(strengths[k])) - decode(sae, z)

        log_psi_S = np.asarray(jax.jit(lambda s: lens.run_with_hooks(s, {HOOK: by_hand}))(setup["basis_SN"]))
        psi_S = np.exp(log_psi_S - log_psi_S.max())
        assert curve.energies_K[k] == pytest.approx((psi_S @ (h @ psi_S)) / (psi_S @ psi_S), rel=1e-10)
        assert curve.observables["ms"][k] == pytest.approx((psi_S**2 @ setup["ms_S"]) / (psi_S @ psi_S), rel=1e-10)
        assert edits.scale[k, setup["feature"]] == strengths[k]
    assert curve.energy_reference == pytest.approx(setup["system"].energy_of(setup["log_psi_S"]), rel=1e-10)
    assert curve.relative_deviation_K[2] == pytest.approx(0.0, abs=1e-12)
    assert curve.admissible_K.all() and curve.exact and set(curve.method_K) == {"exact"}
    frame = curve.to_frame()
    assert list(frame.columns[:4]) == ["strength", "energy", "energy_err", "rel_energy_dev"] and len(frame) == 4


def test_spliced_reconstruction_without_error_term_differs(setup):
    lens_psi = LensLogPsi(setup["lens"])
    spliced = SAELogPsi(setup["lens"], setup["sae"], HOOK, keep_error=False)
    edit = one_edit(steering_edits(HOOK, 0, np.ones(1), 32), 0)
    sigma = setup["basis_SN"][:64]
    assert not np.allclose(np.asarray(spliced(sigma, edit)), np.asarray(lens_psi(sigma, one_edit(
        HookEdit(HOOK, jnp.ones((1, 16)), jnp.zeros((1, 16))), 0))))


def test_reweighted_curve_agrees_with_exact_within_errors(setup):
    """Samples drawn exactly (independently) from |ψ|²; reweighted estimates within 4σ of the full sums."""
    system, basis_SN = setup["system"], setup["basis_SN"]
    samples_SN = basis_SN[np.random.default_rng(0).choice(len(basis_SN), size=2000, p=setup["prob_S"])]

    def local_energy(log_psi_fn, sigma_SN):
        conn_SCN, mels_SC = map(np.asarray, system.hamiltonian.get_conn_padded(np.asarray(sigma_SN)))
        log_conn_SC = log_psi_fn(jnp.asarray(conn_SCN.reshape(-1, sigma_SN.shape[1]))).reshape(mels_SC.shape)
        return (mels_SC * jnp.exp(log_conn_SC - log_psi_fn(jnp.asarray(sigma_SN))[:, None])).sum(-1)

    sampled = SampledEvaluator(setup["log_psi"], samples_SN, local_energy,
                               {"ms": lambda s: np.abs(staggered_magnetisation_per_config(system, s))}, unit="J")
    strengths = np.array([0.5, 0.8, 1.0, 1.25, 4.0])
    curve = steering_curve(sampled, HOOK, setup["feature"], strengths, ess_threshold=0.2)
    exact = steering_curve(setup["evaluator"], HOOK, setup["feature"], strengths)
    ok = curve.admissible_K
    assert not curve.exact and ok[:4].all() and not ok[4] and curve.ess_fraction_K[2] == pytest.approx(1.0)
    assert np.all(np.abs(curve.energies_K - exact.energies_K)[ok] < 4 * curve.energy_errors_K[ok])
    assert np.all(np.abs(curve.observables["ms"] - exact.observables["ms"])[ok] < 4 * curve.observable_errors["ms"][ok])
    assert np.all(curve.ess_fraction_K[~ok] < 0.2)
    assert np.all(curve.energy_errors_K[ok] > 0)


def test_admissible_range_is_the_trusted_run_around_the_identity():
    s = np.arange(8.0)
    trusted = np.array([1, 0, 1, 1, 1, 0, 1, 1], bool)
    np.testing.assert_array_equal(admissible_range(s, trusted, 3.0), [0, 0, 1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(admissible_range(s, trusted, 6.6), [0, 0, 0, 0, 0, 0, 1, 1])
    np.testing.assert_array_equal(admissible_range(s, trusted, None), [0, 0, 1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(admissible_range(s, trusted, 5.0), [0, 0, 1, 1, 1, 0, 0, 0])
    assert not admissible_range(s, np.zeros(8, bool), 1.0).any()


def test_bad_steering_input_raises(setup):
    with pytest.raises(PhyslensError):
        steering_edits(HOOK, 40, np.ones(2), 32)
    with pytest.raises(PhyslensError):
        steering_edits(HOOK, 0, np.ones(2), 32, "multiply")
    with pytest.raises(PhyslensError):
        steering_curve(setup["evaluator"], "hidden.post", 0, np.ones(2))
    with pytest.raises(PhyslensError):
        steering_curve(setup["evaluator"], HOOK, 0, np.array([np.nan]))


def test_spearman_and_deviation_use_the_admissible_range_only():
    s_K = np.linspace(0, 2, 7)
    obs_K = np.array([0.1, 0.3, 0.2, 0.5, 0.4, 0.9, -5.0])
    energies_K = np.array([-1.9, -1.95, -1.99, -2.0, -1.98, -1.9, 10.0])
    ok_K = np.array([1, 1, 1, 1, 1, 1, 0], bool)
    curve = SteeringCurve("h", 0, "scale", s_K, energies_K, np.zeros(7), -2.0, {"o": obs_K}, {"o": np.zeros(7)},
                          np.ones(7), np.zeros(7, bool), ok_K, 0.1, False, "J", 10, np.zeros(7))
    rank_s, rank_o = np.argsort(np.argsort(s_K[ok_K])), np.argsort(np.argsort(obs_K[ok_K]))
    n = ok_K.sum()
    assert curve.spearman("o") == pytest.approx(1 - 6 * np.sum((rank_s - rank_o) ** 2) / (n * (n**2 - 1)))
    assert curve.max_relative_deviation == pytest.approx(0.05)
    assert list(curve.method_K) == ["reweighted"] * 7
