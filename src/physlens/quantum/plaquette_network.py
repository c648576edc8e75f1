"""The hand-built FFNN that represents the toric-code ground state: odd-parity plaquette filters.

For every plaquette p of the L×L toric code (B_p = Π σᶻ over its four edges) take the eight
sign patterns c ∈ {±1}⁴ with Π c = −1 and a hidden ReLU unit reading the plaquette's edges
with weights w · c (no bias), so log ψ(σ) = Σ_p Σ_c relu(w c·σ_p). A plaquette with
B_p = +1 (an even number of −1 spins) disagrees with four of the patterns in one place and
gives 4 · 2w = 8w; one with B_p = −1 matches one pattern and gives 4w. Every flux-free
configuration thus has the same amplitude, and each violated plaquette costs a factor e^(−4w):
as w grows, ψ tends to the equal superposition of all flux-free configurations, a ground state
of H = −Σ A_v − Σ B_p (E0 = −2L²) since each star A_v maps flux-free configurations onto each
other. 8L² units and 32L² weights: 72 and 288 for L = 3 (ρ = 16 weights per spin), the line
Barton et al. draw in their Fig. 4.

Usage::

    model, params = plaquette_network(ToricCode(3), weight=2.0)
    log_psi_S = model.apply({"params": params}, basis_SN)
"""

from __future__ import annotations

import itertools

import numpy as np

from physlens.errors import PhyslensError
from physlens.quantum.models import FFNN
from physlens.quantum.systems import ToricCode

ODD_PATTERNS = np.array([c for c in itertools.product((1, -1), repeat=4) if np.prod(c) == -1], dtype=float)
"""The eight sign patterns on a plaquette's four edges with an odd number of −1, shape ``(8, 4)``."""


def plaquette_kernel(system: ToricCode, weight: float) -> np.ndarray:
    """First-layer kernel of the plaquette network, shape ``(N, 8 L²)``: unit 8p + k reads plaquette p with
    ``weight`` · ``ODD_PATTERNS[k]`` and nothing else."""
    if not isinstance(system, ToricCode):
        raise PhyslensError(f"the plaquette network is built for the toric code; got {system.kind}")
    plaquettes_P4 = system.plaquettes
    kernel_NM = np.zeros((system.hilbert.size, 8 * len(plaquettes_P4)))
    for p, edges in enumerate(plaquettes_P4):
        kernel_NM[np.ix_(edges, range(8 * p, 8 * p + 8))] = weight * ODD_PATTERNS.T
    return kernel_NM


def plaquette_network(system: ToricCode, weight: float) -> tuple[FFNN, dict]:
    """The FFNN (one hidden ReLU layer of 8 L² units, no biases, summed output) and its ``"params"``."""
    kernel_NM = plaquette_kernel(system, weight)
    return FFNN(widths=(kernel_NM.shape[1],), activation="relu", use_bias=False), {"layers.0": {"kernel": kernel_NM}}
