"""Training presets of the transformer NQS for the SAE-steering study, and their reference energies.

Each preset is a ``TrainConfig`` small enough to train in minutes on a 2-core machine:
a 1-layer, 2-head transformer of width 16 on patches of 2 sites (chains) or 2×2 squares
(square lattices), trained by stochastic reconfiguration on Monte Carlo samples
(512 per step). Full sums over a 12 870- or 10⁶-state basis per SR step cost ten to a
hundred times more than 512 samples, so every preset trains on samples; exactness
comes in afterwards (the 4×4 Heisenberg energy is a full sum over the S^z = 0 sector
at every log step and at the end, and its activation datasets enumerate the basis).

| preset | system | reference energy |
|---|---|---|
| ``tfim-chain-20`` | TFIM chain N = 20, h = J = 1, periodic | free fermions (closed form; = ED) |
| ``tfim-chain-40`` | TFIM chain N = 40, h = J = 1, periodic | free fermions (closed form) |
| ``heisenberg-4x4`` | Heisenberg 4×4 torus, S^z = 0 (12 870 states) | Lanczos |
| ``heisenberg-6x6`` | Heisenberg 6×6 torus, S^z = 0 (sampled) | literature, E0/N = −0.678872 J |

The ``…-converged`` presets train the same networks (``heisenberg-4x4-wide-converged``: d_model 32) as far
as converging needs: 1,024 samples per step, the step size decaying along a cosine from 0.03 to 0.003 (so
the SR noise floor falls as training ends), stopping at ε < 1e-4, within 4,000 steps on 4×4 and 3,000 on the
chains and on 6×6 (the last two sampled throughout; ε against the closed form and the literature value).
The 6×6, 40-site and wide ones solve SR by Cholesky in sample space (``sr_solver="cholesky"``: the same update
at a fixed cost per step, where conjugate gradients slow down as training converges; 40 early 6×6 steps took
67 s against 90 s, 60 first d_model-32 steps 61 s against 143 s); the 4×4 and 20-site ones keep NetKet's
conjugate gradients, as their committed runs were trained.

``heisenberg-4x4-polish`` continues such a run by full sums (``--init-from`` a finished 4×4 run of the
same network): exact SR gradients over the 12,870 states, the dense QGT solved by Cholesky
(``sr_solver="cholesky"``: 4.5 s per step there; the conjugate-gradient default > 150 s at this shift),
step size 0.02, diagonal shift 1e-4, up to 600 steps, stopping at ε < 1e-4. Sampled SR stalls near
ε = 1.5e-3 on this network whatever the samples (1,024–4,096), the shift (1e-2–1e-4) or SPRING momentum.

The TFIM presets sit at the critical field h = J: the order parameter m_z then
fluctuates over its whole range from configuration to configuration (a broad, not a
two-peaked, distribution), which gives a feature a continuous signal to track, and
single-spin-flip Metropolis still moves between the m_z > 0 and m_z < 0 halves, which it
cannot do on 40 sites deep in the ordered phase (h ≪ J). Energies are in units of J;
the Heisenberg ones use spin-1/2 operators (H = J Σ S_i·S_j), the TFIM ones Pauli
matrices (H = −J Σ σᶻσᶻ − h Σ σˣ), as ``physlens.quantum.systems`` writes them.

Usage::

    cfg = preset("heisenberg-4x4")
    run = train(cfg, "runs/sae-study/heisenberg-4x4")
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from physlens.errors import PhyslensError, check_choice
from physlens.quantum.train import TrainConfig

HEISENBERG_6X6_E0_PER_SITE = -0.678872
"""Ground-state energy per site of the 6×6 periodic Heisenberg model, H = J Σ S_i·S_j with spin-1/2
operators, in units of J: exact diagonalisation of the 36-site cluster by Schulz, Ziman and Poilblanc,
J. Phys. I France 6, 675 (1996), E0/N = −0.678872 (stochastic series expansion gives the same to 6 digits)."""


def tfim_chain_energy(n: int, h: float = 1.0, J: float = 1.0) -> float:
    """Ground-state energy of the periodic TFIM chain H = −J Σ σᶻ_i σᶻ_{i+1} − h Σ σˣ_i (Pauli), in units of J.

    Jordan–Wigner fermions in the even-parity sector (antiperiodic momenta k = π(2m+1)/N,
    m = 0 … N−1): E0 = −Σ_k √(J² + h² − 2Jh cos k). For h = J this is −2/sin(π/2N).
    Valid for J ≥ 0 (ferromagnetic coupling) and any h ≥ 0.
    """
    if n < 2 or J < 0 or h < 0:
        raise PhyslensError(f"the closed form needs N >= 2, J >= 0, h >= 0; got N={n}, J={J}, h={h}")
    k = np.pi * (2 * np.arange(n) + 1) / n
    return float(-np.sum(np.sqrt(J**2 + h**2 - 2 * J * h * np.cos(k))))


_COMMON = dict(model="transformer", d_model=16, n_layers=1, n_heads=2, patch_size=2, pos_encoding="learned",
               mode="sampled", samples=512, chains=16, optimizer="sgd", diag_shift=0.01, tol=0.0,
               log_every=10, checkpoint_every=25)

PRESETS: dict[str, TrainConfig] = {
    "tfim-chain-20": TrainConfig(system="tfim-chain", size=20, system_params={"h": 1.0}, steps=150,
                                 learning_rate=0.03, reference_energy=tfim_chain_energy(20),
                                 reference_method="free fermions (closed form)", **_COMMON),
    "tfim-chain-40": TrainConfig(system="tfim-chain", size=40, system_params={"h": 1.0}, steps=150,
                                 learning_rate=0.03, reference_energy=tfim_chain_energy(40),
                                 reference_method="free fermions (closed form)", **_COMMON),
    "heisenberg-4x4": TrainConfig(system="heisenberg-square", size=4, steps=300, learning_rate=0.03, **_COMMON),
    "heisenberg-6x6": TrainConfig(system="heisenberg-square", size=6, steps=150, learning_rate=0.03,
                                  reference_energy=36 * HEISENBERG_6X6_E0_PER_SITE,
                                  reference_method="literature: Schulz, Ziman, Poilblanc (1996), 36-site ED",
                                  **_COMMON),
}
_CONVERGED = dict(samples=1024, learning_rate=0.03, learning_rate_final=0.003, tol=1e-4, log_every=25,
                  checkpoint_every=100)
PRESETS |= {
    f"{name}-converged": dataclasses.replace(PRESETS[name], steps=steps, sr_solver=solver, **_CONVERGED)
    for name, steps, solver in (("heisenberg-4x4", 4000, "cg"), ("tfim-chain-20", 3000, "cg"),
                                ("heisenberg-6x6", 3000, "cholesky"), ("tfim-chain-40", 3000, "cholesky"))
} | {"heisenberg-4x4-polish": dataclasses.replace(PRESETS["heisenberg-4x4"], mode="exact", sr_solver="cholesky",
                                                  learning_rate=0.02, diag_shift=1e-4, steps=600, tol=1e-4,
                                                  log_every=10, checkpoint_every=10),
      "heisenberg-4x4-wide-converged": dataclasses.replace(PRESETS["heisenberg-4x4"], steps=4000, d_model=32,
                                                          sr_solver="cholesky", **_CONVERGED)}
"""The study's presets by name (see the module docstring)."""


def preset(name: str, **overrides: Any) -> TrainConfig:
    """The preset ``name`` with some ``TrainConfig`` fields replaced (e.g. ``steps=20`` for a smoke test)."""
    check_choice("preset", name, list(PRESETS))
    return dataclasses.replace(PRESETS[name], **overrides)
