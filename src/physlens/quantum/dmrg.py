"""Reference ground-state energies by DMRG, for Ising systems too large to diagonalise.

Barton et al. measure their 10×10 lottery tickets against DMRG energies (ITensor, bond
dimension up to 3,000, in their ``src/dmrg/tfim2d.jl``); physlens does the same with TeNPy
for a ``tfim-chain`` or ``tfim-square`` beyond the exact basis. The Hamiltonian is built
term by term from the system itself — its graph's bonds and fields, sites in NetKet's order
on one MPS — so it is the system's own operator whatever its boundaries, written in the
rotated basis σᶻ ↔ σˣ (−J σˣ_i σˣ_j − h σᶻ_i: the same spectrum), where the spin-flip
parity Π σᶻ is a conserved charge TeNPy exploits. One run sweeps at χ_max/2, then at χ_max;
the energy change between the two, ``DMRGReference.convergence``, estimates the error left.

Usage::

    ref = dmrg_ground_state(make_system("tfim-square", 6, h=3.04438, pbc=False), chi_max=256)
    ref.energy, ref.method        # E0 in units of J; "DMRG (TeNPy 1.1.1, χ ≤ 256, ...)"
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

from physlens.errors import PhyslensError
from physlens.quantum.systems import SpinSystem, TFIMChain, TFIMSquare

DMRG_SYSTEMS = (TFIMChain, TFIMSquare)
SVD_MIN = 1e-12
"""Singular values below this are dropped (relative)."""


@dataclass(frozen=True)
class DMRGReference:
    """A DMRG ground-state energy.

    Attributes:
        energy: E0 at ``chi_max``, in ``unit``.
        unit: energy unit of the system.
        chi_max: largest bond dimension allowed.
        chi_reached: largest bond dimension used.
        truncation_error: largest discarded weight of the last sweep.
        convergence: |E(χ_max) − E(χ_max/2)|, in ``unit``.
        version: TeNPy's version.
    """

    energy: float
    unit: str
    chi_max: int
    chi_reached: int
    truncation_error: float
    convergence: float
    version: str

    @property
    def method(self) -> str:
        """How the energy was obtained, in one line (recorded beside every error measured against it)."""
        return (f"DMRG (TeNPy {self.version}, χ ≤ {self.chi_max}, reached {self.chi_reached}; truncation error "
                f"{self.truncation_error:.1e}; |E(χ) − E(χ/2)| = {self.convergence:.1e} {self.unit})")


def _model(system: SpinSystem):
    from tenpy.models.lattice import Chain
    from tenpy.models.model import CouplingModel, MPOModel
    from tenpy.networks.site import SpinHalfSite

    lattice = Chain(system.hilbert.size, SpinHalfSite(conserve="parity"), bc="open", bc_MPS="finite")
    model = CouplingModel(lattice)
    for i in range(lattice.N_sites):
        model.add_onsite_term(-system.h, i, "Sigmaz")
    for i, j in system.bonds:
        model.add_coupling_term(-system.J, int(min(i, j)), int(max(i, j)), "Sigmax", "Sigmax")
    return lattice, MPOModel(lattice, model.calc_H_MPO())


def _run(system: SpinSystem, chi_max: int, sweeps: int) -> tuple[float, float, int, float]:
    """E after ``sweeps`` sweeps at χ_max/2, E at the end (χ_max), the bond dimension reached, the last truncation."""
    from tenpy.algorithms import dmrg
    from tenpy.networks.mps import MPS

    lattice, model = _model(system)
    psi = MPS.from_product_state(lattice.mps_sites(), ["up"] * lattice.N_sites, bc="finite")
    info = dmrg.run(psi, model, {"mixer": True, "max_E_err": 1e-11, "max_S_err": 1e-6, "min_sweeps": sweeps + 2,
                                 "max_sweeps": 2 * sweeps, "chi_list": {0: max(chi_max // 2, 1), sweeps: chi_max},
                                 "trunc_params": {"chi_max": chi_max, "svd_min": SVD_MIN}})
    stats = info["sweep_statistics"]
    return (float(stats["E"][sweeps - 1]), float(info["E"]), int(max(psi.chi)), float(stats["max_trunc_err"][-1]))


def dmrg_ground_state(system: SpinSystem, chi_max: int = 256, sweeps: int = 8) -> DMRGReference:
    """E0 of a transverse-field Ising system by two-site DMRG: ``sweeps`` sweeps at χ_max/2, then up to as many
    at χ_max (stopping when the energy changes by < 1e-11 per sweep).

    Args:
        system: a ``tfim-chain`` or ``tfim-square`` (any boundaries, any size).
        chi_max: largest bond dimension (≥ 2).
        sweeps: sweeps per stage (≥ 1).

    Returns:
        ``DMRGReference``: the energy at ``chi_max`` in the system's unit, with its truncation error and the
        change from χ_max/2.
    """
    if not isinstance(system, DMRG_SYSTEMS):
        raise PhyslensError(f"DMRG references are built for tfim-chain and tfim-square; got {system.kind}")
    if chi_max < 2 or sweeps < 1:
        raise PhyslensError(f"need chi_max >= 2 and sweeps >= 1; got {chi_max}, {sweeps}")
    import tenpy

    logging.getLogger("tenpy").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        coarse, energy, chi, truncation = _run(system, chi_max, sweeps)
    return DMRGReference(energy, system.energy_unit, chi_max, chi, truncation, float(np.abs(energy - coarse)),
                         tenpy.__version__)
