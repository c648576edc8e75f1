"""The top-level analyses on opened models: a NetKet user's RBM, no training history, through to a report."""

import netket as nk
import numpy as np
import optax
import pytest

import physlens as pl
from physlens.errors import PhyslensError
from physlens.quantum.systems import HeisenbergRing

RING = HeisenbergRing(8)


@pytest.fixture(scope="module")
def opened():
    vs = nk.vqs.FullSumState(RING.hilbert, nk.models.RBM(alpha=1), seed=1)
    driver = nk.driver.VMC(RING.hamiltonian, optax.sgd(0.05), variational_state=vs,
                           preconditioner=nk.optimizer.SR(diag_shift=0.01))
    driver.run(40, show_progress=False)
    return pl.open(vs, system=RING)


def test_units_of_an_opened_netket_rbm_match_its_evaluator(opened):
    analysis = pl.units(opened, tau=0.3)
    direct = opened.evaluator().evaluate([pl.Ablate("hidden.post", [j]) for j in range(8)]).energies_K
    assert np.allclose(analysis.scan.energy_ablated_M, direct, atol=1e-13, rtol=0)
    assert analysis.scan.hook == "hidden.post" and analysis.model_row()["M"] == 8
    with pytest.raises(PhyslensError, match="has no hidden units physlens knows"):
        pl.units(pl.open(nk.vqs.FullSumState(RING.hilbert, nk.models.Jastrow(), seed=0), system=RING))


def test_report_of_an_opened_netket_state_renders_without_a_history(opened, tmp_path, browser):
    page = pl.units_report(opened, pl.units(opened), tmp_path / "netket-rbm.html")
    text = page.read_text()
    assert "netket.RBM(alpha=1)" in text and "Training" not in text and "Weight patterns" in text
    assert not browser.forbidden.search(text)
    result = browser.measure(page)
    assert result["scrollWidth"] <= browser.width and result["images"] > 0
    assert result["decoded"] == result["images"] == result["captioned"] and result["requests"] == []


def test_report_needs_a_path_when_the_model_is_not_a_run(opened):
    with pytest.raises(PhyslensError, match="give the report a path"):
        pl.units_report(opened, pl.units(opened))
