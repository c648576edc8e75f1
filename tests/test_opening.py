"""physlens.open on networks built, trained and saved by plain NetKet, checked against NetKet itself."""

import flax.serialization
import jax
import jax.numpy as jnp
import netket as nk
import nqxpack
import numpy as np
import optax
import pytest

import physlens as pl
from physlens.errors import PhyslensError
from physlens.quantum.systems import HeisenbergRing

RING = HeisenbergRing(8)


def netket_trained(model, steps: int = 15, seed: int = 0):
    """A NetKet user's state: VMC with SR on the 8-site ring, full-sum, a few steps."""
    vs = nk.vqs.FullSumState(RING.hilbert, model, seed=seed)
    driver = nk.driver.VMC(RING.hamiltonian, optax.sgd(0.02), variational_state=vs,
                           preconditioner=nk.optimizer.SR(diag_shift=0.01))
    driver.run(steps, show_progress=False)
    return vs


def netket_energy(model, variables) -> float:
    vs = nk.vqs.FullSumState(RING.hilbert, model, variables=variables)
    return float(vs.expect(RING.hamiltonian).mean.real)


@pytest.fixture(scope="module")
def rbm_file(tmp_path_factory):
    """An RBM trained by NetKet, its variables written by NetKet's own JsonLog (``.mpack``)."""
    vs = nk.vqs.FullSumState(RING.hilbert, nk.models.RBM(alpha=2), seed=0)
    prefix = str(tmp_path_factory.mktemp("netket") / "rbm")
    driver = nk.driver.VMC(RING.hamiltonian, optax.sgd(0.02), variational_state=vs,
                           preconditioner=nk.optimizer.SR(diag_shift=0.01))
    driver.run(15, out=nk.logging.JsonLog(prefix, save_params_every=1), show_progress=False)
    return prefix + ".mpack", vs


def test_netket_rbm_from_its_jsonlog_file_matches_netket(rbm_file):
    path, vs = rbm_file
    m = pl.open(path, system="heisenberg-ring", size=8, model="netket.RBM:alpha=2")
    assert m.origin == "flax msgpack" and m.description == "netket.RBM(alpha=2)"
    assert m.hook_names() == ["Dense", "hidden.pre", "hidden.post"] and m.units_hook() == "hidden.post"
    sigma_BN = np.asarray(RING.hilbert.all_states())
    assert np.array_equal(m.lens().model.apply(m.variables, sigma_BN), vs.model.apply(vs.variables, sigma_BN)), \
        "the alias sites change nothing"
    energy = m.evaluator().evaluate([pl.Identity("Dense")]).energies_K[0]
    assert abs(energy - float(vs.expect(RING.hamiltonian).mean.real)) < 1e-12


def test_single_unit_ablation_is_removing_that_units_cosh_factor(rbm_file):
    """Ablating unit j (at the alias ``hidden.post`` and at NetKet's own pre-activation site ``Dense``) equals
    NetKet's RBM with W_j and b_j zeroed by hand."""
    path, vs = rbm_file
    m = pl.open(path, system=RING, model=nk.models.RBM(alpha=2))
    n_units = 16
    evaluator = m.evaluator()
    result = evaluator.evaluate([pl.Ablate("hidden.post", [j]) for j in range(n_units)])
    at_dense = evaluator.evaluate([pl.Ablate("Dense", [j]) for j in range(n_units)])
    assert np.allclose(at_dense.energies_K, result.energies_K, atol=1e-13, rtol=0)
    params = vs.variables["params"]
    for j in range(n_units):
        zeroed = {"Dense": {"kernel": params["Dense"]["kernel"].at[:, j].set(0.0),
                            "bias": params["Dense"]["bias"].at[j].set(0.0)},
                  "visible_bias": params["visible_bias"]}
        assert abs(result.energies_K[j] - netket_energy(vs.model, {"params": zeroed})) < 1e-12


def test_units_analysis_of_an_opened_netket_rbm(rbm_file):
    path, _ = rbm_file
    analysis = pl.units(pl.open(path, system=RING, model="netket.RBM:alpha=2"))
    assert analysis.scan.n_units == 16 and analysis.scan.exact
    kernel_NM = np.asarray(flax.serialization.msgpack_restore(open(path, "rb").read())["params"]["Dense"]["kernel"])
    assert np.allclose(analysis.weights_MN, kernel_NM.T)


def test_complex_rbm_saved_as_a_whole_state(tmp_path):
    """``RBMModPhase`` (complex log ψ), saved with ``flax.serialization.to_bytes(vstate)``."""
    vs = netket_trained(nk.models.RBMModPhase(alpha=1, param_dtype=float), steps=10)
    path = tmp_path / "modphase.msgpack"
    path.write_bytes(flax.serialization.to_bytes(vs))
    m = pl.open(path, system=RING, model="netket.RBMModPhase:alpha=1")
    assert np.iscomplexobj(np.asarray(m.log_psi(m.example())))
    assert m.hook_names() == ["Dense_0", "Dense_1"] and m.units_hook() is None
    energy = m.evaluator().evaluate([pl.Identity("Dense_0")]).energies_K[0]
    assert abs(energy - float(vs.expect(RING.hamiltonian).mean.real)) < 1e-12
    assert abs(m.energy().value - energy) < 1e-12


def test_mlp_from_an_nqxpack_archive_opens_with_its_recorded_model(tmp_path):
    vs = netket_trained(nk.models.MLP(hidden_dims=(12, 8), hidden_activations=nk.nn.activation.log_cosh), steps=10)
    nqxpack.save(vs, tmp_path / "mlp.nk")
    m = pl.open(tmp_path / "mlp.nk", system=RING)
    assert m.origin == "nqxpack archive" and m.units_hook() == "MLP_0.Dense_0"
    names = m.hook_names()
    assert names == ["MLP_0", "MLP_0.Dense_0", "MLP_0.Dense_1", "MLP_0.Dense_2"]  # in the order the calls start
    sigma_BN = np.asarray(RING.hilbert.all_states()[:5])
    log_psi_B, cache = m.lens().run_with_cache(sigma_BN, names)
    assert [cache[n].shape for n in names] == [(5, 1), (5, 12), (5, 8), (5, 1)]
    assert np.allclose(log_psi_B, vs.log_value(sigma_BN), atol=1e-13)
    energy = m.evaluator().evaluate([pl.Identity("MLP_0.Dense_0")]).energies_K[0]
    assert abs(energy - float(vs.expect(RING.hamiltonian).mean.real)) < 1e-12


def test_jastrow_in_memory_state_has_no_sites_but_an_energy():
    vs = netket_trained(nk.models.Jastrow(param_dtype=float), steps=10)
    m = pl.open(vs, system=RING)
    assert m.origin == "netket state" and m.hook_names() == [] and m.units_hook() is None
    estimate = m.energy()
    assert estimate.exact and estimate.unit == "J"
    assert abs(estimate.value - float(vs.expect(RING.hamiltonian).mean.real)) < 1e-12


USER_MODULE = """
import flax.linen as nn
import jax.numpy as jnp

class TwoLayer(nn.Module):
    width: int = 6

    @nn.compact
    def __call__(self, x):
        h = nn.tanh(nn.Dense(self.width, param_dtype=jnp.float64)(x))
        h = nn.Dense(self.width, param_dtype=jnp.float64, name="mixer")(h)
        return jnp.sum(nn.softplus(h), axis=-1)
"""


def test_a_users_own_flax_module_by_import_path(tmp_path, monkeypatch):
    """A module physlens never saw: sites by module path, a ``--model package.module:Class:k=v`` spec."""
    (tmp_path / "my_nqs.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    model = pl.registry.model_from_spec("my_nqs:TwoLayer:width=5")
    variables = model.init(jax.random.PRNGKey(1), np.ones((1, 8)))
    path = tmp_path / "vars.msgpack"
    path.write_bytes(flax.serialization.to_bytes(variables))
    m = pl.open(path, system=RING, model="my_nqs:TwoLayer:width=5")
    assert m.description == "my_nqs:TwoLayer(width=5)"
    assert m.hook_names() == ["Dense_0", "mixer"]
    sigma_BN = np.asarray(RING.hilbert.all_states()[:3])
    _, cache = m.lens().run_with_cache(sigma_BN, ["Dense_0", "mixer"])
    assert cache["Dense_0"].shape == (3, 5) and cache["mixer"].shape == (3, 5)
    clamped = m.lens().run_with_hooks(sigma_BN, {"mixer": lambda h: jnp.zeros_like(h)})
    assert np.allclose(clamped, 5 * np.log(2.0))


def test_opening_a_physlens_run_gives_its_system_and_model(tmp_path):
    from physlens.quantum.train import TrainConfig, train

    run = train(TrainConfig(system="heisenberg-ring", size=6, alpha=1, steps=5, tol=0), tmp_path / "run", progress=False)
    m = pl.open(tmp_path / "run")
    assert m.origin == "physlens run" and m.run is not None and m.system == run.system
    assert "hidden.post" in m.hook_names() and "hidden" in m.hook_names() and m.units_hook() == "hidden.post"
    assert abs(m.energy().value - run.status["energy"]) < 1e-12
    assert m.reference() == {"energy": run.reference["energy"], "unit": "J", "method": run.reference["method"]}


def test_the_reference_of_a_saved_state_is_lanczos_on_its_basis(rbm_file):
    m = pl.open(rbm_file[0], system="heisenberg-ring", size=8, model="netket.RBM:alpha=2")
    reference = m.reference()
    assert reference["energy"] == pytest.approx(-3.6510934089, abs=1e-9) and reference["unit"] == "J"


@pytest.mark.parametrize("call, match", [
    (lambda p: pl.open(p / "missing.mpack", system=RING, model="netket.RBM"), "does not exist"),
    (lambda p: pl.open(p / "rbm.mpack", system=RING), "pass model="),
    (lambda p: pl.open(p / "rbm.mpack", model="netket.RBM:alpha=2"), "pass system="),
    (lambda p: pl.open(p / "rbm.mpack", system=RING, model="netket.RBM:alpha=3"), "does not fit netket.RBM"),
    (lambda p: pl.open(p / "rbm.mpack", system=RING, model="netket.RBM:beta=3"), "unknown argument"),
    (lambda p: pl.open(p / "rbm.mpack", system=RING, model="nosuchpkg:Net"), "cannot import model"),
    (lambda p: pl.open(p / "rbm.mpack", system="heisenberg-ring", model="netket.RBM"), "needs size="),
    (lambda p: pl.open(p / "junk.mpack", system=RING, model="netket.RBM:alpha=2"), "not a flax msgpack"),
    (lambda p: pl.open(42), "cannot open a int"),
])
def test_bad_sources_are_one_line_errors(tmp_path, call, match):
    variables = nk.models.RBM(alpha=2).init(jax.random.PRNGKey(0), np.ones((1, 8)))
    (tmp_path / "rbm.mpack").write_bytes(flax.serialization.to_bytes(variables))
    (tmp_path / "junk.mpack").write_bytes(b"\xc1\xc1 not msgpack")
    with pytest.raises(PhyslensError, match=match) as info:
        call(tmp_path)
    assert "\n" not in str(info.value)


def test_opening_a_nuclear_run(tmp_path):
    from physlens.nuclear.train import NuclearTrainConfig, train

    config = NuclearTrainConfig(tasks=("B", "S_n"), zmin=20, nmin=20, width=6, depth=1, mlp_ratio=2, steps=20,
                                batch_size=512, warmup_steps=2, log_every=10, checkpoint_every=10)
    run = train(config, tmp_path / "nuclear", progress=False)
    m = pl.open(tmp_path / "nuclear")
    assert m.origin == "physlens run" and not m.is_spin and m.run.config["kind"] == "nuclear"
    assert "penultimate" in m.hook_names()
    assert np.allclose(m.log_psi(m.example()), run.model.apply(run.variables, m.example()))
    with pytest.raises(PhyslensError, match="not a spin-system model"):
        m.evaluator()
