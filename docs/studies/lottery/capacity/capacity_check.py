"""What a few correlators can do on the 4×4 open TFIM at h/J = 3.04438 (provenance of RESULTS.md).

Exact variational energies (full sums over the 2^16 states, scipy's optimiser) of three
positive ansätze that a one-layer ReLU network with summed output and ±1 inputs can hold:

- the product state |→…→⟩ (no weights);
- cluster detectors w_c |Σ_{i∈c} σ_i| on 2×2 plaquettes, centre plaquette first: each is
  ReLU(w Σσ) + ReLU(−w Σσ), two hidden units and 8 first-layer weights;
- a nearest-neighbour Jastrow factor Σ_b J_b σ_i σ_j (one J, and one J per bond): a single
  ReLU unit cannot make σ_iσ_j, each bond needs two units, so all 24 bonds need 48 units,
  three times the 16 of the network.

    .venv/bin/python docs/studies/lottery/capacity/capacity_check.py   # writes capacity_check.json
"""

import json
from pathlib import Path

import numpy as np
import scipy.optimize

from physlens.quantum.systems import TFIMSquare
from physlens.runs import atomic_write_text

system = TFIMSquare(4, h=3.04438, pbc=False)
H, e0 = system.sparse_hamiltonian().tocsr(), system.exact().energy
S_SN = np.asarray(system.hilbert.all_states())


def rel_error(features_SF: np.ndarray) -> float:
    def energy(J_F):
        log_psi_S = features_SF @ J_F
        psi_S = np.exp(log_psi_S - log_psi_S.max())
        return psi_S @ (H @ psi_S) / (psi_S @ psi_S)
    best = scipy.optimize.minimize(energy, np.full(features_SF.shape[1], 0.1), method="BFGS")
    return abs(best.fun - e0) / abs(e0)


zz_SB = np.stack([S_SN[:, i] * S_SN[:, j] for i, j in system.bonds], 1)
site = {tuple(c): s for s, c in enumerate(np.asarray(system.coords, dtype=int))}
plaquettes = sorted(((x, y) for x in range(3) for y in range(3)), key=lambda p: abs(p[0] - 1) + abs(p[1] - 1))
cluster_SP = np.stack([np.abs(sum(S_SN[:, site[(x + dx, y + dy)]] for dx in (0, 1) for dy in (0, 1)))
                       for x, y in plaquettes], 1)
product = abs(-system.hilbert.size * system.h - e0) / abs(e0)   # E = −N h, no weights
rows = [{"ansatz": "product state", "weights": 0, "rel_error": product}]
rows += [{"ansatz": f"{k} plaquette cluster(s)", "weights": 8 * k, "rel_error": rel_error(cluster_SP[:, :k])}
         for k in (1, 2, 3, 4, 6, 8, 9)]
rows += [{"ansatz": "NN Jastrow, one J", "weights": 96, "rel_error": rel_error(zz_SB.sum(1, keepdims=True))},
         {"ansatz": "NN Jastrow, J per bond", "weights": 96, "rel_error": rel_error(zz_SB)}]
for row in rows:
    print(f"{row['ansatz']:28s} {row['weights']:4d} weights  ε = {row['rel_error']:.3e}")
atomic_write_text(Path(__file__).with_name("capacity_check.json"),
                  json.dumps({"system": f"tfim-square 4x4 open, h/J = {system.h}", "e0_J": e0,
                              "method": "exact full sum", "rows": rows}, indent=1) + "\n")
