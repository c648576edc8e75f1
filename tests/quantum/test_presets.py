"""Presets: the closed-form TFIM energy against ED and the DESIGN formula; the presets build."""

import dataclasses

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.quantum.presets import HEISENBERG_6X6_E0_PER_SITE, PRESETS, preset, tfim_chain_energy
from physlens.quantum.systems import TFIMChain


@pytest.mark.parametrize("n,h", [(6, 0.3), (8, 1.0), (9, 0.7), (10, 1.6)])
def test_tfim_closed_form_equals_exact_diagonalisation(n, h):
    assert tfim_chain_energy(n, h) == pytest.approx(TFIMChain(n, h=h).exact().energy, abs=1e-9)


def test_tfim_closed_form_at_the_critical_point():
    for n in (20, 40):
        assert tfim_chain_energy(n) == pytest.approx(-2 / np.sin(np.pi / (2 * n)), rel=1e-13)


def test_presets_describe_the_study_systems():
    short = {"tfim-chain-20", "tfim-chain-40", "heisenberg-4x4", "heisenberg-6x6"}
    assert set(PRESETS) == short | {f"{n}-converged" for n in short} | {"heisenberg-4x4-wide-converged",
                                                                         "heisenberg-4x4-polish"}
    for name in short:
        converged = preset(f"{name}-converged")
        assert converged.tol == 1e-4 and converged.samples == 1024 and converged.learning_rate_final == 0.003
        assert converged.sr_solver == ("cholesky" if name in {"heisenberg-6x6", "tfim-chain-40"} else "cg")
        assert (converged.system, converged.size, converged.d_model) == (PRESETS[name].system, PRESETS[name].size, 16)
    wide = preset("heisenberg-4x4-wide-converged")
    assert (wide.build_model().d_model, wide.sr_solver) == (32, "cholesky")
    polish = preset("heisenberg-4x4-polish")
    assert (polish.sr_solver, polish.diag_shift, polish.tol) == ("cholesky", 1e-4, 1e-4)
    assert dataclasses.replace(polish, mode="sampled", sr_solver="cg", learning_rate=0.03, diag_shift=0.01,
                               steps=300, tol=0.0, log_every=10, checkpoint_every=25) == PRESETS["heisenberg-4x4"]
    assert preset("heisenberg-6x6").reference_energy == pytest.approx(36 * HEISENBERG_6X6_E0_PER_SITE)
    assert preset("heisenberg-4x4").reference_energy is None
    for cfg in PRESETS.values():
        system = cfg.build_system()
        model = cfg.build_model(system)
        assert model.d_model == cfg.d_model and len(model.lattice_shape) == (2 if "square" in cfg.system else 1)
        assert cfg.mode == ("exact" if cfg is PRESETS["heisenberg-4x4-polish"] else "sampled")
        assert cfg.model == "transformer"
        if cfg.reference_energy is not None:
            assert cfg.reference(system)["energy"] == cfg.reference_energy
    with pytest.raises(PhyslensError, match="unknown preset"):
        preset("heisenberg-8x8")
