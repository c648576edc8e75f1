"""The hidden-unit study on a hand-made 3-unit RBM of the 4-site Heisenberg ring.

Unit 0 has Néel weights a(1, −1, 1, −1) with cosh(4a) = 2, which alone gives the
exact ground state (energy −2 J); unit 1 has zero weights (log cosh 0 = 0, so it
does nothing); unit 2 has weights 0.3(1, 1, −1, −1). Alone, unit 1 leaves the
uniform superposition of the six S^z = 0 states, whose energy is −1/3 (diagonal)
− 4/3 (exchange) = −5/3 J. Everything else is checked against a NumPy full sum.
"""

import itertools

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse

from physlens.errors import PhyslensError
from physlens.lens.evaluate import ExactEvaluator
from physlens.lens.hooks import Lens
from physlens.lens.interventions import LensLogPsi
from physlens.lens.units import classify_units, scan_units, split_units
from physlens.quantum.models import RBM

N_SITES = 4
A = np.arccosh(2.0) / 4
KERNEL_NM = np.stack([A * np.array([1.0, -1, 1, -1]), np.zeros(4), 0.3 * np.array([1.0, 1, -1, -1])], axis=1)


def basis_and_hamiltonian():
    """S^z = 0 basis of the 4-site ring and H = Σ S_i·S_{i+1} with the Marshall sign rule."""
    basis_SN = np.array([c for c in itertools.product([-1.0, 1.0], repeat=N_SITES) if sum(c) == 0])
    index = {tuple(c): i for i, c in enumerate(basis_SN)}
    h_SS = np.zeros((len(basis_SN), len(basis_SN)))
    for s, config in enumerate(basis_SN):
        for i in range(N_SITES):
            j = (i + 1) % N_SITES
            h_SS[s, s] += config[i] * config[j] / 4
            if config[i] != config[j]:
                flipped = config.copy()
                flipped[[i, j]] = flipped[[j, i]]
                h_SS[index[tuple(flipped)], s] -= 0.5
    return basis_SN, h_SS


def czz_table(basis_SN):
    return np.stack([(basis_SN * np.roll(basis_SN, -r, axis=1)).sum(1) / (4 * N_SITES) for r in range(3)], axis=1)


def numpy_full_sum(mask_M, basis_SN, h_SS):
    psi_S = np.exp((np.log(np.cosh(basis_SN @ KERNEL_NM)) * mask_M).sum(axis=1))
    prob_S = psi_S**2 / (psi_S @ psi_S)
    return psi_S @ h_SS @ psi_S / (psi_S @ psi_S), prob_S @ czz_table(basis_SN)


@pytest.fixture(scope="module")
def study():
    basis_SN, h_SS = basis_and_hamiltonian()
    assert np.linalg.eigvalsh(h_SS)[0] == pytest.approx(-2.0, abs=1e-12)
    variables = {"params": {"hidden": {"kernel": jnp.asarray(KERNEL_NM), "bias": jnp.zeros(3)},
                            "visible_bias": jnp.zeros(N_SITES)}}
    evaluator = ExactEvaluator(LensLogPsi(Lens(RBM(alpha=0.75), variables)), basis_SN,
                               scipy.sparse.csr_array(h_SS), {"czz": czz_table(basis_SN)}, unit="J")
    scan = scan_units(evaluator, "hidden.post")
    full = numpy_full_sum(np.ones(3), basis_SN, h_SS)
    ablated = [numpy_full_sum(1.0 - np.eye(3)[j], basis_SN, h_SS) for j in range(3)]
    retained = [numpy_full_sum(np.eye(3)[j], basis_SN, h_SS) for j in range(3)]
    return evaluator, scan, full, ablated, retained, basis_SN, h_SS


def numpy_impacts(full, ablated):
    energy_M = np.array([abs(e - full[0]) / abs(full[0]) for e, _ in ablated])
    czz_M = np.array([np.abs(c - full[1]).sum() / np.abs(full[1]).sum() for _, c in ablated])
    return energy_M, czz_M


def test_scan_matches_the_numpy_full_sum(study):
    _, scan, full, ablated, retained, _, _ = study
    assert scan.n_units == 3 and scan.exact and scan.unit == "J"
    assert scan.energy_full == pytest.approx(full[0], abs=1e-12)
    np.testing.assert_allclose(scan.observable_full_R, full[1], atol=1e-12)
    np.testing.assert_allclose(scan.energy_ablated_M, [e for e, _ in ablated], atol=1e-12)
    np.testing.assert_allclose(scan.observable_ablated_MR, [c for _, c in ablated], atol=1e-12)
    np.testing.assert_allclose(scan.energy_retained_M, [e for e, _ in retained], atol=1e-12)
    np.testing.assert_allclose(scan.observable_retained_MR, [c for _, c in retained], atol=1e-12)
    energy_M, czz_M = numpy_impacts(full, ablated)
    np.testing.assert_allclose(scan.energy_impact_M, energy_M, atol=1e-12)
    np.testing.assert_allclose(scan.observable_impact_M, czz_M, atol=1e-12)
    assert scan.rho == pytest.approx(np.corrcoef(energy_M, czz_M)[0, 1], abs=1e-12)


def test_hand_values(study):
    _, scan, _, _, _, _, _ = study
    assert scan.energy_retained_M[0] == pytest.approx(-2.0, abs=1e-12)
    assert scan.energy_retained_M[1] == pytest.approx(-5.0 / 3.0, abs=1e-12)
    np.testing.assert_allclose(scan.observable_retained_MR[1], [0.25, -1 / 12, -1 / 12], atol=1e-12)
    assert scan.delta_energy_M[1] == 0.0 and scan.observable_impact_M[1] == 0.0


def test_classification_matches_numpy_at_many_thresholds(study):
    _, scan, full, ablated, _, _, _ = study
    energy_M, czz_M = numpy_impacts(full, ablated)
    np.testing.assert_array_equal(scan.important(0.3), [True, False, True])
    assert energy_M[0] > 0.3 and energy_M[2] < 0.3 < czz_M[2]  # unit 2 counts through correlations only
    taus_T = np.linspace(0.0, 1.0, 41)
    classes = classify_units(scan, taus_T)
    expected_TM = (energy_M[None] > taus_T[:, None]) | (czz_M[None] > taus_T[:, None])
    np.testing.assert_array_equal(classes.important_TM, expected_TM)
    assert not classes.important_TM[:, 1].any()
    assert np.all(np.diff(classes.n_important_T) <= 0)
    frame = classes.to_frame()
    assert len(frame) == 41 * 3 and frame["important"].sum() == expected_TM.sum()


def test_split_recovers_energy_and_correlations(study):
    evaluator, scan, full, _, _, basis_SN, h_SS = study
    split = split_units(evaluator, scan, tau=0.3)
    assert split.important_units == (0, 2)
    assert split.energies["important"] == pytest.approx(full[0], abs=1e-12)
    assert split.energies["rest"] == pytest.approx(-5.0 / 3.0, abs=1e-12)
    np.testing.assert_allclose(split.observables["important"], full[1], atol=1e-12)
    only_0 = numpy_full_sum(np.array([1.0, 0, 0]), basis_SN, h_SS)
    split_energy = split_units(evaluator, scan, tau=0.5)
    assert split_energy.important_units == (0,)
    assert split_energy.energies["important"] == pytest.approx(only_0[0], abs=1e-12)
    frame = split.to_frame()
    assert list(frame["model"]) == ["full", "important", "rest"] and "czz[2]" in frame.columns
    assert frame["energy_fraction"].iloc[0] == 1.0


def test_frames_and_errors(study):
    evaluator, scan, _, _, _, _, _ = study
    frame = scan.to_frame()
    assert list(frame["unit"]) == [0, 1, 2]
    assert {"delta_energy", "energy_impact", "czz_impact", "delta_czz[2]", "energy_retained"} <= set(frame.columns)
    with pytest.raises(PhyslensError, match="no observable 'szsz'"):
        scan_units(evaluator, "hidden.post", observable="szsz")


def test_correlation_impact_over_a_range_of_r_is_the_hand_sum(study):
    """C_zz impact summed over r ∈ {1, 2} only, against the NumPy full sums by hand."""
    import dataclasses

    _, scan, full, ablated, _, _, _ = study
    ranged = dataclasses.replace(scan, components=(1, 2))
    by_hand = np.array([np.abs(c[1:3] - full[1][1:3]).sum() / np.abs(full[1][1:3]).sum() for _, c in ablated])
    np.testing.assert_allclose(ranged.observable_impact_M, by_hand, atol=1e-12)
    assert not np.allclose(ranged.observable_impact_M, scan.observable_impact_M)
    np.testing.assert_array_equal(ranged.energy_impact_M, scan.energy_impact_M)
    with pytest.raises(PhyslensError, match="non-empty subset"):
        dataclasses.replace(scan, components=(0, 9))


def test_which_test_made_each_unit_important(study):
    _, scan, _, _, _, _, _ = study
    energy, correlation = scan.energy_impact_M, scan.observable_impact_M
    for tau in np.unique(np.concatenate([energy, correlation, [0.0]])) - 1e-12:
        by = scan.important_by(tau)
        np.testing.assert_array_equal(by != "", scan.important(tau))
        np.testing.assert_array_equal(np.isin(by, ["energy", "both"]), energy > tau)
        np.testing.assert_array_equal(np.isin(by, ["correlation", "both"]), correlation > tau)
