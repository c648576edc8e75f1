"""Hidden-unit study: which single units carry the energy and the correlations.

For a model with a hidden hook of M units (``hidden.post`` of an RBM by default)
and any evaluator (exact or sampled), ``scan_units`` evaluates, in one batched
call, the full model, the M single-unit ablations and the M single-unit
retentions. From it:

- ΔE(j) = E_removed(j) − E_full and ΔC(j)(r) = C_removed(j)(r) − C_full(r);
- energy impact |ΔE(j)|/|E_full| and correlation impact Σ_r|ΔC(j)(r)|/Σ_r|C_full(r)|, the
  sums over every r = 0 … N/2 by default, over a chosen set of r with ``components``
  (the paper writes Σ_r without limits);
- unit j is *important* at threshold τ if either impact exceeds τ, and ``important_by``
  records which test made it so (``classify_units`` sweeps many τ from the same scan,
  with no new evaluation);
- ρ, the Pearson correlation of the two impacts across units.

``split_units`` then evaluates the important set alone and the rest alone (two
``KeepOnly`` interventions)::

    scan = scan_units(evaluator, "hidden.post", observable="czz")
    split = split_units(evaluator, scan, tau=0.3)
    scan.to_frame(), classify_units(scan, np.linspace(0.05, 1, 20)).to_frame(), split.to_frame()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from physlens.errors import PhyslensError
from physlens.lens.interventions import Identity, KeepOnly, single_unit_ablations, single_unit_retentions

if TYPE_CHECKING:
    from physlens.lens.evaluate import ExactEvaluator
    from physlens.lens.sampled import SampledEvaluator

DEFAULT_TAU = 0.3
"""Default importance threshold on the relative energy or correlation impact."""


def _components(values: np.ndarray) -> np.ndarray:
    """Observable values ``(K, ...)`` as ``(K, R)``."""
    return np.asarray(values).reshape(values.shape[0], -1)


@dataclass(frozen=True)
class UnitScan:
    """Single-unit ablations and retentions of the M units of one hook.

    Attributes:
        hook: the hook point whose components are the units.
        observable: name of the correlation observable (e.g. ``czz``).
        unit: energy unit.
        exact: whether the evaluator summed exactly.
        energy_full: energy of the un-intervened model, in ``unit``.
        observable_full_R: the observable of the un-intervened model, ``(R,)``.
        energy_ablated_M: energy with unit j removed (set to 0), ``(M,)``.
        observable_ablated_MR: the observable with unit j removed, ``(M, R)``.
        energy_retained_M: energy with only unit j kept, ``(M,)``.
        observable_retained_MR: the observable with only unit j kept, ``(M, R)``.
        energy_errors_M: standard error of ``energy_ablated_M`` (0 when exact).
        components: the observable's components r summed in the correlation impact (None: all).
    """

    hook: str
    observable: str
    unit: str
    exact: bool
    energy_full: float
    observable_full_R: np.ndarray
    energy_ablated_M: np.ndarray
    observable_ablated_MR: np.ndarray
    energy_retained_M: np.ndarray
    observable_retained_MR: np.ndarray
    energy_errors_M: np.ndarray
    components: tuple[int, ...] | None = None

    def __post_init__(self):
        if self.components is not None:
            size = self.observable_full_R.size
            bad = [r for r in self.components if not 0 <= r < size]
            if bad or not self.components:
                raise PhyslensError(f"components {list(self.components)} must be a non-empty subset of 0..{size - 1}")

    @property
    def n_units(self) -> int:
        """Number of units M."""
        return self.energy_ablated_M.size

    @property
    def delta_energy_M(self) -> np.ndarray:
        """ΔE(j) = E_removed(j) − E_full, in ``unit``, ``(M,)``."""
        return self.energy_ablated_M - self.energy_full

    @property
    def delta_observable_MR(self) -> np.ndarray:
        """ΔC(j)(r) = C_removed(j)(r) − C_full(r), ``(M, R)``."""
        return self.observable_ablated_MR - self.observable_full_R

    @property
    def energy_impact_M(self) -> np.ndarray:
        """|ΔE(j)| / |E_full| (dimensionless), ``(M,)``."""
        return np.abs(self.delta_energy_M) / np.abs(self.energy_full)

    @property
    def observable_impact_M(self) -> np.ndarray:
        """Σ_r |ΔC(j)(r)| / Σ_r |C_full(r)| over ``components`` (all r by default), dimensionless, ``(M,)``."""
        picked = slice(None) if self.components is None else list(self.components)
        return (np.abs(self.delta_observable_MR[:, picked]).sum(axis=1)
                / np.abs(self.observable_full_R[picked]).sum())

    @property
    def rho(self) -> float:
        """Pearson correlation of energy impact and correlation impact across units (NaN if either is constant)."""
        a, b = self.energy_impact_M, self.observable_impact_M
        if self.n_units < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
            return float("nan")
        return float(np.corrcoef(a, b)[0, 1])

    def important(self, tau: float = DEFAULT_TAU) -> np.ndarray:
        """Boolean mask ``(M,)``: energy impact > τ or correlation impact > τ."""
        return (self.energy_impact_M > tau) | (self.observable_impact_M > tau)

    def important_by(self, tau: float = DEFAULT_TAU) -> np.ndarray:
        """Which test makes each unit important at τ: ``energy``, ``correlation``, ``both`` or ``""``, ``(M,)``."""
        by_energy, by_correlation = self.energy_impact_M > tau, self.observable_impact_M > tau
        return np.select([by_energy & by_correlation, by_energy, by_correlation], ["both", "energy", "correlation"], "")

    def to_frame(self) -> pd.DataFrame:
        """One row per unit: energies (ablated, retained), ΔE, impacts, and ΔC per component."""
        frame = pd.DataFrame({"unit": np.arange(self.n_units), "energy_ablated": self.energy_ablated_M,
                              "energy_ablated_err": self.energy_errors_M, "energy_retained": self.energy_retained_M,
                              "delta_energy": self.delta_energy_M, "energy_impact": self.energy_impact_M,
                              f"{self.observable}_impact": self.observable_impact_M})
        for r in range(self.delta_observable_MR.shape[1]):
            frame[f"delta_{self.observable}[{r}]"] = self.delta_observable_MR[:, r]
        frame["energy_full"], frame["unit_of_energy"], frame["exact"] = self.energy_full, self.unit, self.exact
        return frame


def scan_units(evaluator: ExactEvaluator | SampledEvaluator, hook: str, observable: str = "czz",
               components: tuple[int, ...] | None = None) -> UnitScan:
    """Evaluate the full model and every single-unit ablation and retention in one batched call.

    ``evaluator``: an ``ExactEvaluator`` or ``SampledEvaluator`` whose observables include
    ``observable``. The number of units M is the width of ``hook``. ``components``: the r summed
    in the correlation impact (None: all; ``dataclasses.replace`` changes it without re-evaluating).
    """
    n_units = evaluator.width(hook)
    result = evaluator.evaluate([Identity(hook), *single_unit_ablations(hook, n_units),
                                 *single_unit_retentions(hook, n_units)])
    if observable not in result.observables:
        raise PhyslensError(f"the evaluator has no observable {observable!r}; it has: {', '.join(result.observables) or 'none'}")
    obs_KR = _components(result.observables[observable])
    ablated, retained = slice(1, 1 + n_units), slice(1 + n_units, 1 + 2 * n_units)
    return UnitScan(hook, observable, result.unit, result.exact, float(result.energies_K[0]), obs_KR[0],
                    result.energies_K[ablated], obs_KR[ablated], result.energies_K[retained], obs_KR[retained],
                    result.energy_errors_K[ablated], None if components is None else tuple(int(r) for r in components))


@dataclass(frozen=True)
class UnitClassification:
    """Importance of every unit at T thresholds, from one ``UnitScan``.

    Attributes:
        taus_T: the thresholds τ (dimensionless), ``(T,)``.
        important_TM: unit j important at τ_t, ``(T, M)``.
    """

    taus_T: np.ndarray
    important_TM: np.ndarray

    @property
    def n_important_T(self) -> np.ndarray:
        """Number of important units at each τ, ``(T,)``."""
        return self.important_TM.sum(axis=1)

    def to_frame(self) -> pd.DataFrame:
        """One row per (τ, unit): ``tau``, ``unit``, ``important``."""
        n_taus, n_units = self.important_TM.shape
        return pd.DataFrame({"tau": np.repeat(self.taus_T, n_units), "unit": np.tile(np.arange(n_units), n_taus),
                             "important": self.important_TM.reshape(-1)})


def classify_units(scan: UnitScan, taus: npt.ArrayLike) -> UnitClassification:
    """Importance masks at every threshold in ``taus`` (no new evaluation)."""
    taus_T = np.atleast_1d(np.asarray(taus, dtype=float))
    important_TM = (scan.energy_impact_M[None] > taus_T[:, None]) | (scan.observable_impact_M[None] > taus_T[:, None])
    return UnitClassification(taus_T, important_TM)


@dataclass(frozen=True)
class UnitSplit:
    """What the important units alone, and the rest alone, recover.

    Attributes:
        tau: the importance threshold used.
        important_units: indices of the important units.
        energies: ``{"full", "important", "rest"}`` → energy, in ``unit``.
        observables: the same keys → observable ``(R,)``.
        observable: name of the observable.
        unit: energy unit.
    """

    tau: float
    important_units: tuple[int, ...]
    energies: dict[str, float]
    observables: dict[str, np.ndarray]
    observable: str
    unit: str

    def to_frame(self) -> pd.DataFrame:
        """One row per model (full, important only, rest only): energy, its fraction of the
        full energy, and the observable per component."""
        rows = []
        for name, energy in self.energies.items():
            row = {"model": name, "energy": energy, "energy_fraction": energy / self.energies["full"],
                   "unit_of_energy": self.unit, "tau": self.tau}
            row.update({f"{self.observable}[{r}]": v for r, v in enumerate(self.observables[name])})
            rows.append(row)
        return pd.DataFrame(rows)


def split_units(evaluator: ExactEvaluator | SampledEvaluator, scan: UnitScan, tau: float = DEFAULT_TAU) -> UnitSplit:
    """Evaluate ``KeepOnly`` of the important units at ``tau`` and of the rest (one batched call)."""
    mask_M = scan.important(tau)
    important = tuple(int(j) for j in np.flatnonzero(mask_M))
    rest = tuple(int(j) for j in np.flatnonzero(~mask_M))
    result = evaluator.evaluate([KeepOnly(scan.hook, important), KeepOnly(scan.hook, rest)])
    obs_KR = _components(result.observables[scan.observable])
    energies = {"full": scan.energy_full, "important": float(result.energies_K[0]), "rest": float(result.energies_K[1])}
    observables = {"full": scan.observable_full_R, "important": obs_KR[0], "rest": obs_KR[1]}
    return UnitSplit(tau, important, energies, observables, scan.observable, result.unit)
