"""Named training protocols: the NetKet objects they build, and runs that record them."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import optax
import pytest

from physlens.errors import PhyslensError
from physlens.quantum import protocols
from physlens.quantum import train as training
from physlens.quantum.evaluators import MAX_FULLSUM_STATES
from physlens.quantum.final_state import FullSumEnergy
from physlens.quantum.systems import HeisenbergRing
from physlens.quantum.training_config import TrainConfig

RING8_E0 = -3.6510934089  # DESIGN.md reference table


def paper_driver(size=8, alpha=2):
    cfg = protocols.apply("rbm-paper", TrainConfig(size=size, alpha=alpha, seed=3, steps=10))
    system = cfg.build_system()
    vstate = training.make_vstate(system, cfg.build_model(system), cfg)
    return cfg, system, vstate, training.make_driver(system, vstate, cfg)


def test_paper_protocol_builds_the_papers_netket_objects():
    cfg, system, vstate, driver = paper_driver()
    assert type(vstate.model) is nk.models.RBM and vstate.model.alpha == 2
    default = nk.models.RBM(alpha=2)
    assert vstate.model.param_dtype == default.param_dtype and vstate.model.kernel_init is default.kernel_init
    assert isinstance(vstate, nk.vqs.MCState) and vstate.n_samples == 4096
    assert isinstance(vstate.sampler.rule, nk.sampler.rules.LocalRule) and vstate.sampler.n_chains == 16
    assert system.hilbert.n_states == 2**8 and system.hilbert.constrained is False
    assert isinstance(driver.preconditioner, nk.optimizer.SR) and driver.preconditioner.diag_shift == 1e-3
    assert type(driver.preconditioner.qgt_constructor) is type(nk.optimizer.SR(diag_shift=1e-3).qgt_constructor)
    assert driver.preconditioner.solver is nk.optimizer.SR(diag_shift=1e-3).solver, "NetKet's default SR solver"
    grads = {"w": jnp.array([0.3, -2.0, 5e-4])}
    ours, _ = driver.optimizer.update(grads, driver.optimizer.init(grads))
    adam, _ = optax.adam(1e-3).update(grads, optax.adam(1e-3).init(grads))
    sgd, _ = optax.sgd(1e-3).update(grads, optax.sgd(1e-3).init(grads))
    np.testing.assert_allclose(ours["w"], adam["w"], rtol=1e-15)
    assert not np.allclose(ours["w"], sgd["w"])
    assert (cfg.tol, cfg.log_every, cfg.protocol) == (1e-3, 25, "rbm-paper")


def test_physlens_protocol_is_the_first_study_settings():
    small = protocols.apply("physlens-sr", TrainConfig(size=12, alpha=3, seed=1, steps=1500))
    large = protocols.apply("physlens-sr", TrainConfig(size=18, alpha=3, seed=1, steps=1500))
    assert (small.mode, large.mode) == ("exact", "sampled")
    assert (small.model, small.optimizer, small.learning_rate, small.diag_shift, small.samples) == ("rbm", "sgd", 0.05, 0.01, 2048)
    assert small.build_system().hilbert.constrained


def test_protocol_check_names_what_departs():
    cfg = protocols.apply("rbm-paper", TrainConfig(size=8, alpha=2))
    protocols.get("rbm-paper").check(cfg)
    with pytest.raises(PhyslensError, match="learning_rate differ from protocol rbm-paper"):
        protocols.get("rbm-paper").check(dataclasses.replace(cfg, learning_rate=0.01))
    with pytest.raises(PhyslensError, match="unknown protocol .adam.; allowed: physlens-sr, rbm-paper"):
        protocols.get("adam")


def test_local_sampler_refuses_a_fixed_sz_basis():
    cfg = TrainConfig(size=8, mode="sampled", sampler="local")
    with pytest.raises(PhyslensError, match="fixed_sz=false"):
        cfg.build_sampler(cfg.build_system())


def test_full_basis_ring_has_the_sector_ground_state():
    full, sector = HeisenbergRing(8, fixed_sz=False), HeisenbergRing(8)
    assert full.hilbert.n_states == 256 and sector.hilbert.n_states == 70
    assert full.exact().energy == pytest.approx(RING8_E0, abs=1e-9)
    assert full.exact().energy == pytest.approx(sector.exact().energy, abs=1e-12)


def test_paper_protocol_run_keeps_snapshots_and_records_protocol(tmp_path):
    cfg = dataclasses.replace(protocols.apply("rbm-paper", TrainConfig(size=8, alpha=1, seed=0, steps=60)),
                              snapshot_every=20, samples=512)
    run = training.train(cfg, tmp_path / "run", progress=False)
    assert run.config["protocol"] == "rbm-paper" and run.config["system_params"] == {"fixed_sz": False}
    kept = training.snapshots(training.load(tmp_path / "run"))
    assert [step for step, _ in kept] == [0, 20, 40]
    first = nk.vqs.MCState(nk.sampler.MetropolisLocal(nk.hilbert.Spin(0.5, 8), n_chains=16), nk.models.RBM(alpha=1),
                           n_samples=512, seed=0, sampler_seed=1)
    same = jax.tree_util.tree_map(lambda a, b: np.array_equal(a, b), kept[0][1], first.variables)
    assert all(jax.tree_util.tree_leaves(same))
    assert not np.array_equal(kept[1][1]["params"]["Dense"]["kernel"], kept[0][1]["params"]["Dense"]["kernel"])


def test_paper_protocol_checks_its_stopping_rule_exactly_on_every_ring_of_the_papers_grid():
    paper = protocols.apply("rbm-paper", TrainConfig(size=20, alpha=3))
    first = protocols.apply("physlens-sr", TrainConfig(size=20, alpha=3))
    assert protocols.check_max_states(paper) == 2**20
    assert protocols.check_max_states(first) == protocols.check_max_states(TrainConfig(size=20)) == MAX_FULLSUM_STATES
    system = paper.build_system()
    assert FullSumEnergy(system, paper.build_model(system), protocols.check_max_states(paper)).available
    assert not FullSumEnergy(system, first.build_model(system), protocols.check_max_states(first)).available


@pytest.mark.parametrize("limit,checked", [(2**8, True), (2**8 - 1, False)])
def test_a_sampled_run_logs_exact_checks_only_within_its_protocols_limit(tmp_path, monkeypatch, limit, checked):
    monkeypatch.setattr(training, "check_max_states", lambda config: limit)
    cfg = dataclasses.replace(protocols.apply("rbm-paper", TrainConfig(size=8, alpha=1, seed=0, steps=30)),
                              samples=256)
    training.train(cfg, tmp_path / "run", progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    logged = [row["step"] for row in rows if "energy_fullsum" in row]
    assert logged == ([0, 25] if checked else [])
