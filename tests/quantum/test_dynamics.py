"""NQS dynamics (physlens.quantum.dynamics): starts, TDVP against closed forms, resume; the exact side is
tests/quantum/test_quench.py."""

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest

import physlens  # noqa: F401  (enables float64)
from physlens.errors import PhyslensError
from physlens.quantum.dynamics import EvolveConfig, complex_start, evolve, load, neel_start, resume
from physlens.quantum.models import RBM
from physlens.quantum.quench import Quench, neel_configuration, neel_vector
from physlens.quantum.registry import model_from_spec
from physlens.quantum.systems import HeisenbergRing, TFIMChain


def test_complex_start_keeps_the_wavefunction():
    model = RBM(alpha=2, init_std=0.3)
    sigma_SN = np.asarray(TFIMChain(6).hilbert.all_states())
    variables = model.init(jax.random.PRNGKey(1), sigma_SN[:1])
    spec, complex_variables = complex_start(model, variables)
    complex_model = model_from_spec(spec)
    assert isinstance(complex_model, nk.models.RBM)
    assert all(jnp.iscomplexobj(x) for x in jax.tree.leaves(complex_variables))
    np.testing.assert_allclose(complex_model.apply(complex_variables, sigma_SN), model.apply(variables, sigma_SN),
                               atol=1e-12)


def test_neel_start_is_close_to_the_neel_state():
    ring = HeisenbergRing(8)
    spec, variables = neel_start(8, neel_configuration(ring), strength=2.0)
    log_psi_S = np.asarray(model_from_spec(spec).apply(variables, ring.hilbert.all_states()))
    psi_S = np.exp(log_psi_S - log_psi_S.real.max())
    assert abs(np.vdot(neel_vector(ring), psi_S)) ** 2 / np.vdot(psi_S, psi_S).real > 0.999


def product_state(n_sites, b0):
    """Complex RBM with no hidden couplings: ψ(σ) = Π_i exp(b0 σ_i), a product state."""
    return {"params": {"Dense": {"kernel": jnp.zeros((n_sites, n_sites), complex), "bias": jnp.zeros(n_sites, complex)},
                       "visible_bias": jnp.full(n_sites, b0 + 0j)}}


def test_tdvp_of_a_product_state_in_a_field_follows_the_closed_form(tmp_path):
    """H = −h Σ σˣ (J = 0): d⟨σᶻ⟩/dt = −2h⟨σʸ⟩, d⟨σʸ⟩/dt = 2h⟨σᶻ⟩, so from ⟨σʸ⟩ = 0 each spin precesses about x:
    ⟨σᶻ(t)⟩ = ⟨σᶻ(0)⟩ cos(2ht), ⟨σˣ⟩ constant. For ψ ∝ exp(b σ): ⟨σᶻ⟩ = tanh 2b, ⟨σˣ⟩ = 1/cosh 2b; m = ⟨σ⟩/2 in ħ.
    The start's fidelity to the field's ground state (all spins along +x) is (cosh² b / cosh 2b)^N, kept by the
    unitary evolution of both."""
    n, h, b0 = 4, 0.7, 0.3
    quench = Quench(TFIMChain(n, h=h, J=0.0), TFIMChain(n, h=0.4, J=0.0))
    config = EvolveConfig(quench=quench.params(), model="netket.RBM:alpha=1.0,param_dtype=complex", t_end=1.0,
                          save_dt=0.25, dt=0.025)
    result = evolve(config, tmp_path / "field", product_state(n, b0))
    t_K = result.nqs.times_T
    np.testing.assert_allclose(t_K, [0, 0.25, 0.5, 0.75, 1.0], atol=1e-15)
    np.testing.assert_allclose(result.nqs.m_z_T, 0.5 * np.tanh(2 * b0) * np.cos(2 * h * t_K), rtol=0, atol=1e-7)
    np.testing.assert_allclose(result.nqs.m_x_T, 0.5 / np.cosh(2 * b0), rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.fidelity_T, (np.cosh(b0) ** 2 / np.cosh(2 * b0)) ** n, rtol=1e-8)
    assert result.status["state"] == "finished"
    assert result.exact.energy_T == pytest.approx(-h * n, abs=1e-12)


@pytest.mark.parametrize("mode", ["exact", "sampled"])
def test_resumed_evolution_gives_the_same_trajectory(tmp_path, mode):
    """Full sums, and Monte Carlo with the sampler's state restored from the checkpoint."""
    quench = Quench.tfim(4, h_before=0.5, h_after=1.0, pbc=False)
    _, variables = neel_start(4, np.ones(4), strength=0.5, seed=2)
    config = EvolveConfig(quench=quench.params(), model="netket.RBM:alpha=1.0,param_dtype=complex", t_end=0.4,
                          save_dt=0.1, dt=0.05, mode=mode, samples=256, chains=16)
    whole = evolve(config, tmp_path / "whole", variables)
    part = evolve(config, tmp_path / "part", variables, max_saves=2)
    assert part.status["state"] == "interrupted" and len(part.fidelity_T) == 3
    resumed = resume(tmp_path / "part")
    assert resumed.status["state"] == "finished"
    for k in range(5):
        jax.tree.map(np.testing.assert_array_equal, resumed.parameters(k), whole.parameters(k))
    np.testing.assert_array_equal(resumed.frame().to_numpy(float), whole.frame().to_numpy(float))
    first, last = whole.parameters(0)["params"], whole.parameters(4)["params"]
    assert not np.array_equal(first["visible_bias"], last["visible_bias"])
    assert load(tmp_path / "whole").frame().shape[0] == 5


def test_bad_times_are_refused():
    quench = Quench.tfim(4, h_before=0.5, h_after=1.0)
    with pytest.raises(PhyslensError, match="whole number"):
        EvolveConfig(quench=quench.params(), t_end=1.0, save_dt=0.1, dt=0.03)
