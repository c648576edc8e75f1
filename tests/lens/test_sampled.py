import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physlens.lens.evaluate import ExactEvaluator
from physlens.lens.hooks import Lens
from physlens.lens.interventions import Ablate, Identity, LensLogPsi, Scale, single_unit_ablations
from physlens.lens.sampled import SampledEvaluator, paired_shift_error, weighted_mean
from physlens.quantum.models import RBM
from physlens.quantum.observables import czz_per_config, local_energy_per_config
from physlens.quantum.systems import HeisenbergRing

HOOK = "hidden.post"
N_SAMPLES = 4000


@pytest.fixture(scope="module")
def setup():
    system = HeisenbergRing(8)
    basis_SN = np.asarray(system.hilbert.all_states())
    model = RBM(alpha=1)
    variables = model.init(jax.random.PRNGKey(0), basis_SN[:1])
    leaves, tree = jax.tree.flatten(variables)
    keys = jax.random.split(jax.random.PRNGKey(2), len(leaves))
    variables = jax.tree.unflatten(tree, [0.3 * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])
    log_psi = LensLogPsi(Lens(model, variables))
    exact = ExactEvaluator(log_psi, basis_SN, system.hamiltonian.to_sparse(), {"czz": czz_per_config(system, basis_SN)}, "J")

    def sampler(log_psi_fn, n, seed):
        """Exact Born sampling over the enumerated basis."""
        log_psi_S = np.real(np.asarray(log_psi_fn(basis_SN)))
        prob_S = np.exp(2 * (log_psi_S - log_psi_S.max()))
        return basis_SN[np.random.default_rng(seed).choice(len(basis_SN), n, p=prob_S / prob_S.sum())]

    samples_SN = sampler(log_psi.bind(Identity(HOOK).edit(8)), N_SAMPLES, 1234)
    return system, log_psi, exact, sampler, samples_SN


def traced_local_energy(system):
    def local_energy(log_psi_fn, sigma_SN):
        conn_SCN, mels_SC = map(np.asarray, system.hamiltonian.get_conn_padded(sigma_SN))
        return (mels_SC * jnp.exp(log_psi_fn(conn_SCN) - log_psi_fn(sigma_SN)[:, None])).sum(-1)

    return local_energy


def sampled(setup, local_energy=None, **kwargs):
    system, log_psi, _, _, samples_SN = setup
    local_energy = local_energy or traced_local_energy(system)
    return SampledEvaluator(log_psi, samples_SN, local_energy, {"czz": lambda s: czz_per_config(system, s)}, "J", **kwargs)


INTERVENTIONS = [Identity(HOOK), *single_unit_ablations(HOOK, 8), Scale(HOOK, (0, 3), 0.5)]


def assert_within_four_errors(estimate, error, exact):
    assert np.all(np.abs(estimate - exact) <= 4 * error + 1e-12), (estimate - exact) / np.maximum(error, 1e-300)


def test_estimates_agree_with_exact_within_four_standard_errors(setup):
    exact = setup[2].evaluate(INTERVENTIONS)
    result = sampled(setup).evaluate(INTERVENTIONS)
    assert not result.exact and result.n_samples == N_SAMPLES
    assert_within_four_errors(result.energies_K, result.energy_errors_K, exact.energies_K)
    assert_within_four_errors(result.observables["czz"], result.observable_errors["czz"], exact.observables["czz"])
    assert np.all(result.energy_errors_K > 0) and np.all(result.ess_K > 0.1 * N_SAMPLES)
    assert not result.resampled_K.any()


def test_identity_has_full_ess_and_plain_monte_carlo_error(setup):
    system, log_psi, _, _, samples_SN = setup
    result = sampled(setup).evaluate([Identity(HOOK), Ablate(HOOK, 2)])
    assert result.ess_K[0] == pytest.approx(N_SAMPLES, rel=1e-12)
    assert result.ess_K[1] < N_SAMPLES
    e_loc_S = np.real(np.asarray(traced_local_energy(system)(log_psi.bind(Identity(HOOK).edit(8)), samples_SN)))
    assert result.energies_K[0] == pytest.approx(e_loc_S.mean(), abs=1e-12)
    assert result.energy_errors_K[0] == pytest.approx(e_loc_S.std() / np.sqrt(N_SAMPLES), rel=1e-9)


def test_numpy_local_energy_and_chunking_give_the_same_estimates(setup):
    system = setup[0]
    traced = sampled(setup).evaluate(INTERVENTIONS[:3])
    looped = sampled(setup, lambda f, s: local_energy_per_config(system, f, s)).evaluate(INTERVENTIONS[:3])
    chunked = sampled(setup, max_bytes=10**7).evaluate(INTERVENTIONS[:3])
    for other in (looped, chunked):
        np.testing.assert_allclose(other.energies_K, traced.energies_K, atol=1e-12)
        np.testing.assert_allclose(other.ess_K, traced.ess_K, rtol=1e-12)


def test_collapsed_ess_resamples_from_the_intervened_model(setup):
    inverted = [Identity(HOOK), Scale(HOOK, tuple(range(8)), -4.0)]
    exact = setup[2].evaluate(inverted)
    with pytest.warns(UserWarning, match="ESS/S below 0.1"):
        reweighted = sampled(setup).evaluate(inverted)
    assert reweighted.ess_K[1] < 0.1 * N_SAMPLES and not reweighted.resampled_K.any()
    result = sampled(setup, sampler=setup[3], seed=7).evaluate(inverted)
    np.testing.assert_array_equal(result.resampled_K, [False, True])
    assert result.ess_K[1] == N_SAMPLES
    assert_within_four_errors(result.energies_K, result.energy_errors_K, exact.energies_K)
    assert_within_four_errors(result.observables["czz"], result.observable_errors["czz"], exact.observables["czz"])


def test_weighted_mean_matches_closed_form():
    x_KS = np.array([[1.0, 2.0, 4.0]])
    w_KS = np.array([[1.0, 1.0, 2.0]])
    mean, error = weighted_mean(x_KS, w_KS)
    assert mean[0] == pytest.approx(11 / 4)
    expected = np.sqrt(((np.array([1, 1, 2]) / 4) ** 2 * (x_KS[0] - 11 / 4) ** 2).sum())
    assert error[0] == pytest.approx(expected)


def test_energy_shift_is_within_four_paired_errors_of_the_exact_shift(setup):
    gentle = [Identity(HOOK), Scale(HOOK, (0,), 0.9), Scale(HOOK, (0, 3), 1.1)]
    exact = setup[2].evaluate(gentle)
    result = sampled(setup).evaluate(gentle)
    assert result.shift_errors_K[0] == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_array_equal(exact.shift_errors_K, 0.0)
    shift_K, exact_shift_K = result.energies_K - result.energies_K[0], exact.energies_K - exact.energies_K[0]
    assert_within_four_errors(shift_K[1:], result.shift_errors_K[1:], exact_shift_K[1:])
    assert np.all(result.shift_errors_K[1:] < 0.5 * result.energy_errors_K[1:])


def test_paired_shift_error_is_the_spread_of_the_difference_over_independent_sample_sets():
    rng = np.random.default_rng(3)
    sets, size = 4000, 200
    z_RS = rng.normal(size=(sets, size))
    x0_RS = z_RS + 0.3 * rng.normal(size=(sets, size))
    x1_RS = x0_RS + 0.05 * z_RS**2
    w_RS = np.exp(0.2 * z_RS)
    differences_R = (w_RS * x1_RS).sum(1) / w_RS.sum(1) - x0_RS.mean(1)
    errors_R = np.array([paired_shift_error(x1_RS[r][None], w_RS[r][None], x0_RS[r])[0] for r in range(sets)])
    assert np.sqrt(np.mean(errors_R**2)) == pytest.approx(differences_R.std(), rel=0.05)


def test_paired_shift_error_matches_a_hand_computation():
    x_KS, w_KS, x0_S = np.array([[1.0, 2.0, 4.0]]), np.array([[1.0, 1.0, 2.0]]), np.array([0.0, 3.0, 3.0])
    contributions = np.array([1, 1, 2]) / 4 * (x_KS[0] - 11 / 4) - (x0_S - 2.0) / 3
    assert paired_shift_error(x_KS, w_KS, x0_S)[0] == pytest.approx(np.sqrt((contributions**2).sum()))
