"""DMRG reference energies against exact diagonalisation, where both are possible."""

import pytest

from physlens.errors import PhyslensError
from physlens.quantum.dmrg import dmrg_ground_state
from physlens.quantum.systems import make_system


@pytest.mark.parametrize("kind, size, params", [("tfim-square", 3, {"h": 3.04438, "pbc": False}),
                                                ("tfim-chain", 8, {"h": 0.7, "pbc": True})])
def test_dmrg_matches_lanczos(kind, size, params):
    system = make_system(kind, size, **params)
    reference = dmrg_ground_state(system, chi_max=32, sweeps=4)
    assert reference.energy == pytest.approx(system.exact().energy, rel=1e-10)
    assert reference.unit == "J" and reference.convergence < 1e-8
    assert reference.method.startswith("DMRG (TeNPy") and "χ ≤ 32" in reference.method


def test_dmrg_refuses_other_systems():
    with pytest.raises(PhyslensError, match="tfim-chain and tfim-square"):
        dmrg_ground_state(make_system("heisenberg-ring", 6))
