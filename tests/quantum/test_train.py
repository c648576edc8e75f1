"""VMC training: convergence against the exact reference, and exact resumption."""

import dataclasses

import jax
import jax.flatten_util
import netket as nk
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.quantum import train as training
from physlens.quantum.systems import HeisenbergRing
from physlens.quantum.train import load as load_run
from physlens.runs import Run

RING8_E0 = -3.6510934089  # DESIGN.md reference table


def independent_energy(run: Run) -> float:
    """⟨H⟩ of the run's final variables by a fresh NetKet full sum."""
    vs = nk.vqs.FullSumState(run.system.hilbert, run.model, variables=run.variables)
    return float(vs.expect(HeisenbergRing(8).hamiltonian).mean.real)


def test_exact_mode_rbm_alpha2_ring8_converges(tmp_path):
    cfg = training.TrainConfig(size=8, alpha=2.0, mode="exact", steps=300, tol=1e-3)
    run = training.train(cfg, tmp_path / "run", progress=False)
    energy = independent_energy(run)
    assert abs(energy - RING8_E0) / abs(RING8_E0) < 1e-3
    assert run.status["state"] == "converged"
    assert run.status["energy"] == pytest.approx(energy, abs=1e-10)
    metrics = run.metrics()
    assert metrics["step"].tolist() == list(range(len(metrics)))
    first_czz = metrics.dropna(subset=["czz"])["czz"].iloc[0]
    assert first_czz[0] == pytest.approx(0.25)


def test_sampled_mode_rbm_alpha2_ring8_converges(tmp_path):
    cfg = training.TrainConfig(size=8, alpha=2.0, mode="sampled", samples=1024, chains=16, steps=300, tol=1e-3)
    run = training.train(cfg, tmp_path / "run", progress=False)
    eps = abs(independent_energy(run) - RING8_E0) / abs(RING8_E0)
    assert eps < 5e-3
    assert run.config["mode"] == "sampled"


def interrupted_then_resumed(tmp_path, cfg, stop_after_step):
    """Train, raise KeyboardInterrupt after ``stop_after_step`` completed steps, then resume."""
    original = training._Session.after_update

    def interrupting(self, step, driver):
        original(self, step, driver)
        if step + 1 == stop_after_step:
            raise KeyboardInterrupt

    mp = pytest.MonkeyPatch()
    mp.setattr(training._Session, "after_update", interrupting)
    with pytest.raises(KeyboardInterrupt):
        training.train(cfg, tmp_path / "killed", progress=False)
    mp.undo()
    status = Run.open(tmp_path / "killed").status
    assert status["state"] == "interrupted"
    assert status["step"] == (stop_after_step // cfg.checkpoint_every) * cfg.checkpoint_every
    return training.resume(tmp_path / "killed", progress=False)


@pytest.mark.parametrize("mode,sr_solver", [("exact", "cg"), ("sampled", "cg"), ("exact", "cholesky")])
def test_interrupt_resume_equals_uninterrupted(tmp_path, mode, sr_solver):
    cfg = training.TrainConfig(size=8, alpha=1.0, mode=mode, samples=256, chains=8, steps=40, tol=0.0,
                               checkpoint_every=10, log_every=5, sr_solver=sr_solver)
    straight = training.train(cfg, tmp_path / "straight", progress=False)
    resumed = interrupted_then_resumed(tmp_path, cfg, stop_after_step=27)
    for a, b in zip(jax.tree_util.tree_leaves(straight.variables), jax.tree_util.tree_leaves(resumed.variables)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert resumed.metrics()["energy"].tolist() == straight.metrics()["energy"].tolist()
    assert resumed.status["step"] == straight.status["step"] == 40
    sittings = Run.open(tmp_path / "killed").sittings
    assert [s["step"] for s in sittings] == [0, 20] and [s["step"] for s in Run.open(tmp_path / "straight").sittings] == [0]
    assert sittings[1]["versions"]["netket"] == Run.open(tmp_path / "killed").versions["netket"]
    assert sittings[1]["device"].startswith("cpu") and "started" in sittings[1] and "xla_flags" in sittings[1]


def test_resume_of_finished_run_changes_nothing(tmp_path):
    cfg = training.TrainConfig(size=8, alpha=1.0, steps=5, tol=0.0)
    run = training.train(cfg, tmp_path / "run", progress=False)
    before = (tmp_path / "run" / "params.msgpack").read_bytes()
    again = training.resume(tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "params.msgpack").read_bytes() == before
    assert again.status == run.status


def test_config_round_trips_through_the_run(tmp_path):
    cfg = training.TrainConfig(system="tfim-chain", size=6, system_params={"h": 0.5}, model="ffnn", widths=(6, 4),
                               activation="log_cosh", steps=3, tol=0.0)
    run = training.train(cfg, tmp_path / "run", progress=False)
    assert training.TrainConfig.from_dict({k: v for k, v in run.config.items() if k != "kind"}) == cfg
    assert run.system.h == 0.5 and run.model.widths == (6, 4)
    assert run.reference["energy"] == pytest.approx(run.system.exact().energy)
    assert set(run.versions) >= {"python", "netket", "jax", "flax", "physlens"}


def test_failed_config_leaves_nothing_on_disk(tmp_path):
    cfg = dataclasses.replace(training.TrainConfig(), size=7)
    with pytest.raises(Exception, match="even number"):
        training.train(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_transformer_on_the_tfim_chain_converges_to_ed_and_reloads(tmp_path):
    cfg = training.TrainConfig(system="tfim-chain", size=8, system_params={"h": 1.0}, model="transformer", d_model=8,
                               n_heads=2, patch_size=2, mode="exact", steps=100, tol=1e-3)
    run = training.train(cfg, tmp_path / "run", progress=False)
    chain = run.system
    e0 = chain.exact().energy
    vs = nk.vqs.FullSumState(chain.hilbert, run.model, variables=run.variables)
    energy = float(vs.expect(chain.hamiltonian).mean.real)
    assert run.status["state"] == "converged" and abs(energy - e0) / abs(e0) < 1e-3
    loaded = load_run(tmp_path / "run")
    sigma = np.asarray(chain.hilbert.all_states())
    np.testing.assert_array_equal(loaded.model.apply(loaded.variables, sigma), run.model.apply(run.variables, sigma))
    assert loaded.model.lattice_shape == (8,)


def test_status_records_the_final_state(tmp_path):
    """C_zz(r) and the variance of the final parameters (not the last logged step), parameter count, wall time."""
    cfg = training.TrainConfig(size=6, alpha=1.0, mode="exact", steps=13, tol=0.0, log_every=10)
    run = training.train(cfg, tmp_path / "run", progress=False)
    status = run.status
    vs = nk.vqs.FullSumState(run.system.hilbert, run.model, variables=run.variables)
    probs_S = np.asarray(vs.probability_distribution())
    sigma_SN = np.asarray(run.system.hilbert.all_states()) / 2
    czz_R = [float(probs_S @ (sigma_SN * np.roll(sigma_SN, -r, axis=1)).mean(axis=1)) for r in range(4)]
    np.testing.assert_allclose(status["czz"], czz_R, atol=1e-12)
    assert status["czz"] != run.metrics_rows()[10]["czz"], "the final state, not the step-10 log"
    assert status["variance"] == pytest.approx(float(vs.expect(run.system.hamiltonian).variance), rel=1e-10)
    assert status["n_parameters"] == 6 + 6 + 36 and status["seconds"] > 0 and not status["collapsed"]


def test_huge_learning_rate_collapses_and_fails(tmp_path):
    cfg = training.TrainConfig(size=6, alpha=1.0, mode="exact", steps=60, tol=0.0, learning_rate=5.0)
    status = training.train(cfg, tmp_path / "run", progress=False).status
    assert status["state"] == "failed" and status["collapsed"] and status["message"].startswith("collapsed:")
    assert status["eps"] == pytest.approx(abs(-1.5 - (-2.8027756377)) / 2.8027756377, rel=1e-6), "the Néel energy -N/4"


def test_sampled_mode_without_a_reference_on_a_basis_too_large_to_diagonalise(tmp_path):
    cfg = training.TrainConfig(system="tfim-chain", size=26, alpha=1.0, mode="sampled", samples=32, chains=8, steps=2)
    with pytest.raises(PhyslensError, match="allowed: --sampled"):
        training.train(dataclasses.replace(cfg, mode="exact"), tmp_path / "exact", progress=False)
    run = training.train(cfg, tmp_path / "run", progress=False)
    assert run.reference["energy"] is None and run.status["eps"] is None and run.status["state"] == "finished"
    assert [row["eps"] for row in run.metrics_rows()] == [None, None]


def test_a_decaying_step_size_is_used_and_resumes_exactly(tmp_path):
    """The run with the cosine schedule differs from the constant one, and an interrupted one resumes bit for bit
    (the schedule's step count is part of the checkpointed optimiser state)."""
    cfg = training.TrainConfig(size=8, alpha=1.0, mode="exact", steps=40, tol=0.0, checkpoint_every=10, log_every=5,
                               learning_rate=0.05, learning_rate_final=0.005)
    straight = training.train(cfg, tmp_path / "straight", progress=False)
    constant = training.train(dataclasses.replace(cfg, learning_rate_final=None), tmp_path / "constant", progress=False)
    assert straight.metrics()["energy"].iloc[1] == pytest.approx(constant.metrics()["energy"].iloc[1], abs=1e-12)
    assert abs(straight.metrics()["energy"].iloc[-1] - constant.metrics()["energy"].iloc[-1]) > 1e-6
    resumed = interrupted_then_resumed(tmp_path, cfg, stop_after_step=27)
    for a, b in zip(jax.tree_util.tree_leaves(straight.variables), jax.tree_util.tree_leaves(resumed.variables)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def hand_sr_step(system, model, variables, learning_rate: float, diag_shift: float,
                 states_SN: np.ndarray | None = None) -> np.ndarray:
    """One SR step from ``variables`` by dense linear algebra: the gradient 2 Re⟨O*_k (E_loc − E)⟩ and the
    covariance S_kl = Re⟨(O_k − Ō_k)*(O_l − Ō_l)⟩, O_k = ∂ log ψ/∂θ_k, then θ − η (S + λ I)⁻¹ ∇E. Averages are
    over the whole basis under |ψ|² (``states_SN`` None) or uniform over the samples ``states_SN``; local energies
    come from the dense Hamiltonian. Returns the new parameters flattened, ``(P,)``."""
    basis_BN = np.asarray(system.hilbert.all_states())
    flat_P, unflatten = jax.flatten_util.ravel_pytree(variables["params"])

    def log_psi(p, states):
        return model.apply({"params": unflatten(p)}, states)

    log_psi_B = np.asarray(log_psi(flat_P, basis_BN))
    psi_B = np.exp(log_psi_B - log_psi_B.real.max())
    e_loc_B = (system.hamiltonian.to_dense() @ psi_B) / psi_B
    if states_SN is None:
        states_SN, weights_S = basis_BN, np.abs(psi_B) ** 2 / np.sum(np.abs(psi_B) ** 2)
    else:
        weights_S = np.full(len(states_SN), 1 / len(states_SN))
    e_loc_S = e_loc_B[np.asarray(system.hilbert.states_to_numbers(states_SN))]
    jac_SP = np.asarray(jax.jacfwd(log_psi)(flat_P, states_SN))
    centred_SP = jac_SP - weights_S @ jac_SP
    grad_P = 2 * np.real(np.einsum("s,sp,s->p", weights_S, centred_SP.conj(), e_loc_S - weights_S @ e_loc_S))
    s_PP = np.real(np.einsum("s,sp,sq->pq", weights_S, centred_SP.conj(), centred_SP))
    return np.asarray(flat_P) - learning_rate * np.linalg.solve(s_PP + diag_shift * np.eye(len(flat_P)), grad_P)


def flat_params(variables) -> np.ndarray:
    return np.asarray(jax.flatten_util.ravel_pytree(variables["params"])[0])


@pytest.mark.parametrize("mode,sr_solver", [("exact", "cholesky"), ("exact", "cg"), ("sampled", "cholesky")])
def test_an_sr_step_equals_the_dense_linear_algebra(tmp_path, mode, sr_solver):
    """Every SR solver takes the step (S + λ I)⁻¹ ∇E of a hand computation from the seed's initial parameters of
    an 8-ring RBM (80 parameters): over the 70 states of the S^z = 0 sector (exact), or over the 64 samples of
    the first step (sampled; fewer samples than parameters, so NetKet solves in sample space). Cholesky agrees
    to rounding, conjugate gradients to its stopping tolerance."""
    cfg = training.TrainConfig(size=8, alpha=1.0, mode=mode, samples=64, chains=8, steps=1, tol=0.0,
                               learning_rate=0.05, diag_shift=1e-3, sr_solver=sr_solver)
    system = cfg.build_system()
    model = cfg.build_model(system)
    vstate = training.make_vstate(system, model, cfg)
    start_P = flat_params(vstate.variables)
    samples_SN = None if mode == "exact" else np.asarray(vstate.samples).reshape(-1, system.n_sites)
    expected_P = hand_sr_step(system, model, vstate.variables, cfg.learning_rate, cfg.diag_shift, samples_SN)
    got_P = flat_params(training.train(cfg, tmp_path / "stepped", progress=False).variables)
    assert np.max(np.abs(expected_P - start_P)) > 1e-3
    np.testing.assert_allclose(got_P, expected_P, rtol=0, atol=1e-10 if sr_solver == "cholesky" else 1e-4)
