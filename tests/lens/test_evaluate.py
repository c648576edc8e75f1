import flax.linen as nn
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.evaluate import ExactEvaluator
from physlens.lens.hooks import HookPoint, Lens
from physlens.lens.interventions import Identity, LensLogPsi, Scale, single_unit_ablations, stack
from physlens.quantum.models import RBM
from physlens.quantum.observables import czz_per_config
from physlens.quantum.systems import HeisenbergRing

HOOK = "hidden.post"


def random_variables(model, sigma_SN, std=0.3, seed=1):
    variables = model.init(jax.random.PRNGKey(0), sigma_SN[:1])
    leaves, tree = jax.tree.flatten(variables)
    keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
    return jax.tree.unflatten(tree, [std * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])


@pytest.fixture(scope="module")
def ring():
    ring = HeisenbergRing(8)
    sigma_SN = np.asarray(ring.hilbert.all_states())
    model = RBM(alpha=2)
    variables = random_variables(model, sigma_SN)
    return ring, model, variables, sigma_SN, ring.hamiltonian.to_sparse()


def evaluator(ring, **kwargs):
    system, model, variables, sigma_SN, h_sparse = ring
    return ExactEvaluator(LensLogPsi(Lens(model, variables)), sigma_SN, h_sparse,
                          {"czz": czz_per_config(system, sigma_SN), "sz0": sigma_SN[:, 0] / 2}, unit="J", **kwargs)


def netket_ablation_energies(ring) -> np.ndarray:
    system, model, variables, _, _ = ring
    energies = []
    for j in range(16):
        params = jax.tree.map(lambda x: x, variables)
        params["params"]["hidden"]["kernel"] = params["params"]["hidden"]["kernel"].at[:, j].set(0.0)
        params["params"]["hidden"]["bias"] = params["params"]["hidden"]["bias"].at[j].set(0.0)
        vstate = nk.vqs.FullSumState(system.hilbert, model, variables=params)
        energies.append(vstate.expect(system.hamiltonian).mean.real)
    return np.array(energies)


@pytest.mark.parametrize("max_bytes", [2**30, 50_000])
def test_batched_ablations_equal_netket_full_sums(ring, max_bytes):
    result = evaluator(ring, max_bytes=max_bytes).evaluate(single_unit_ablations(HOOK, 16))
    np.testing.assert_allclose(result.energies_K, netket_ablation_energies(ring), rtol=0, atol=1e-10)
    assert result.exact and result.unit == "J" and len(result) == 16
    assert np.all(result.energy_errors_K == 0) and np.all(np.isinf(result.ess_K))


def test_observables_are_born_averages(ring):
    system, model, variables, sigma_SN, _ = ring
    vstate = nk.vqs.FullSumState(system.hilbert, model, variables=variables)
    prob_S = np.abs(np.asarray(vstate.to_array())) ** 2
    ev = evaluator(ring)
    result = ev.evaluate([Identity(HOOK), Scale(HOOK, (0, 1, 2), 0.5)])
    np.testing.assert_allclose(result.energies_K[0], vstate.expect(system.hamiltonian).mean.real, atol=1e-12)
    np.testing.assert_allclose(result.observables["czz"][0], prob_S @ czz_per_config(system, sigma_SN), atol=1e-12)
    np.testing.assert_allclose(result.observables["sz0"][0], prob_S @ sigma_SN[:, 0] / 2, atol=1e-12)
    assert result.observables["czz"].shape == (2, 5) and result.observables["sz0"].shape == (2,)
    np.testing.assert_allclose(ev.born_weights([Identity(HOOK)])[0], prob_S, atol=1e-12)
    frame = result.to_frame()
    assert list(frame["label"]) == ["identity hidden.post", "scale hidden.post[0,1,2]x0.5"]
    assert {"energy", "czz[4]", "czz[4]_err", "sz0", "ess", "resampled", "exact"} <= set(frame.columns)


def test_stacked_edit_is_accepted_and_large_log_psi_is_stable(ring):
    system, model, variables, sigma_SN, h_sparse = ring
    ev = evaluator(ring)
    edits = stack(single_unit_ablations(HOOK, 16), 16)
    np.testing.assert_allclose(ev.evaluate(edits).energies_K, ev.evaluate(single_unit_ablations(HOOK, 16)).energies_K)
    big = jax.tree.map(lambda x: 40 * x, variables)
    vstate = nk.vqs.FullSumState(system.hilbert, model, variables=big)
    ev_big = ExactEvaluator(LensLogPsi(Lens(model, big)), sigma_SN, h_sparse, unit="J")
    energy = ev_big.evaluate([Identity(HOOK)]).energies_K[0]
    assert np.isfinite(energy)
    np.testing.assert_allclose(energy, vstate.expect(system.hamiltonian).mean.real, atol=1e-9)


def test_a_reused_work_array_carries_nothing_between_calls(ring):
    ev = evaluator(ring, max_bytes=50_000)
    first = ev.evaluate([Scale(HOOK, j, 3.0) for j in range(16)])
    second = ev.evaluate(single_unit_ablations(HOOK, 16))
    fresh = evaluator(ring, max_bytes=50_000).evaluate(single_unit_ablations(HOOK, 16))
    np.testing.assert_array_equal(second.energies_K, fresh.energies_K)
    np.testing.assert_array_equal(second.observables["czz"], fresh.observables["czz"])
    np.testing.assert_array_equal(ev.evaluate([Scale(HOOK, j, 3.0) for j in range(16)]).energies_K, first.energies_K)


class PhasedRBM(nn.Module):
    """log ψ = Σ_j log cosh(W_j·σ) + i φ·σ: a complex amplitude with a hook point."""

    @nn.compact
    def __call__(self, sigma_BN):
        post = HookPoint(name="post")(jnp.log(jnp.cosh(nn.Dense(6, use_bias=False, name="dense")(sigma_BN))))
        phase_N = self.param("phase", nn.initializers.normal(1.0), (sigma_BN.shape[-1],))
        return post.sum(-1) + 1j * (sigma_BN @ phase_N)


def test_complex_amplitudes_match_a_dense_reference(ring):
    _, _, _, sigma_SN, h_sparse = ring
    model = PhasedRBM()
    variables = random_variables(model, sigma_SN, std=0.5)
    log_psi = LensLogPsi(Lens(model, variables))
    edits = [Identity("post"), Scale("post", (1, 4), 0.0)]
    energies = ExactEvaluator(log_psi, sigma_SN, h_sparse, unit="J").evaluate(edits).energies_K
    for k, edit in enumerate(edits):
        psi_S = np.exp(np.asarray(log_psi(sigma_SN, edit.edit(6))))
        assert np.abs(psi_S.imag).max() > 0.1
        reference = np.real(np.conj(psi_S) @ h_sparse.toarray() @ psi_S) / np.vdot(psi_S, psi_S).real
        np.testing.assert_allclose(energies[k], reference, atol=1e-12)


def test_bad_inputs_raise(ring):
    _, model, variables, sigma_SN, h_sparse = ring
    log_psi = LensLogPsi(Lens(model, variables))
    with pytest.raises(PhyslensError, match="hamiltonian must be"):
        ExactEvaluator(log_psi, sigma_SN, h_sparse[:10, :10])
    with pytest.raises(PhyslensError, match="observable 'bad'"):
        ExactEvaluator(log_psi, sigma_SN, h_sparse, {"bad": np.zeros(3)})
    with pytest.raises(PhyslensError, match="no interventions"):
        evaluator(ring).evaluate([])
