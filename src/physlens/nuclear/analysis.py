"""The representation-geometry analysis of one trained nuclear regressor.

Reproduces the analyses of Kitouni et al. 2024, "From Neurons to Neutrons"
(arXiv:2405.17425), on a run of ``physlens.nuclear.train``, with the domain-free tools of
``physlens.lens`` (physics enters them as arrays):

- the Z and N embedding tables: PCA, orderedness along PC0, parity split R_P, and a helix
  fitted in their leading PCs, with the binding-energy RMS when R, f or P is perturbed;
- PC truncation per layer (residual stream after every block, penultimate layer);
- the latent topography: the B readout (B/A or B) over a plane of two Z-embedding PCs, at a chosen N;
- the penultimate layer's PCs as maps over the nuclei, matched (cosine similarity,
  centred) to every physics term of ``physlens.nuclear.terms``;
- symbolic regression of the leading penultimate PCs as functions of (Z, N), and their
  combination by least squares into a binding-energy formula B = A·(c0 + Σ c_k f_k(Z, N))
  when the readout (linear in the penultimate layer) predicts B/A, B = c0 + Σ c_k f_k(Z, N)
  when it predicts B (``binding_target = "total"``).

Every number is computed exactly over all experimental nuclei of the run (no sampling);
energies are in MeV. Fits (symbolic formulas, their combination) use the run's
training nuclei only; their held-out RMS is compared with the SEMF fitted on the same
training nuclei::

    analysis = analyse_run(load("runs/nuclear"))
    analysis.summary()            # headline figures
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import pandas as pd

from physlens.errors import PhyslensError
from physlens.lens.geometry import (PCA, TermMatch, Topography, TruncationCurve, latent_topography, match_terms, pca,
                                    truncation_curve)
from physlens.lens.helix import HelixFit, fit_helix
from physlens.lens.hooks import Lens
from physlens.lens.index_structure import Orderedness, ParitySplit, orderedness, parity_split
from physlens.lens.symbolic import FormulaCombination, SymbolicFit, combine_formulas, fit_symbolic
from physlens.nuclear.evaluate import binding_factor, semf_baseline
from physlens.nuclear.terms import SEMF_TERMS, term_vectors
from physlens.nuclear.train import load
from physlens.runs import Run

TERMS: tuple[str, ...] = (*SEMF_TERMS, "shell_P", "shell_P2")
"""Physics terms the penultimate PCs are matched to (vectors of ``term_vectors``)."""
PERTURBATIONS: tuple[tuple[str, float], ...] = (("none", 1.0), ("radius", 0.5), ("radius", 1.5),
                                                ("frequency", 0.9), ("frequency", 1.1), ("pitch", 0.5), ("pitch", 1.5))
"""Helix perturbations: (parameter, factor applied to its fitted value)."""
_COLUMNS = {"Z": 0, "N": 1}
HELIX_RANGES: dict[str, tuple[int, int]] = {"Z": (25, 80), "N": (40, 120)}
"""Index ranges where "From Neurons to Neutrons" (arXiv 2405.17425) fits its helix, so that the radius is
constant: Z ∈ [25, 80], N ∈ [40, 120] (inclusive)."""
MIN_RANGE_ROWS = 8
"""Fewest rows in range for a range helix fit (fewer: no fit)."""
SLOW_HELIX_MAX_FREQUENCY = 0.25
"""Highest frequency (turns per unit of Z or N) of the slow-helix fit: periods of 4 or more,
so that the even/odd zig-zag (period 2, the parity split) cannot pass for a helix."""


def embedding_table(variables: dict, which: str, index_T: np.ndarray) -> np.ndarray:
    """Rows ``index_T`` of the Z or N embedding table, shape (T, D)."""
    if which not in _COLUMNS:
        raise PhyslensError(f"unknown embedding {which!r}; allowed: Z, N")
    return np.asarray(variables["params"][f"embed_{which}"]["embedding"])[np.asarray(index_T)]


def index_structure_row(variables: dict, nuclei: pd.DataFrame) -> dict:
    """Orderedness (|Spearman ρ| along PC0) and parity split R_P of the Z and N embeddings,
    over the Z and N values that occur in ``nuclei``."""
    row = {}
    for which in _COLUMNS:
        index_T = np.unique(nuclei[which].to_numpy())
        emb_TD = embedding_table(variables, which, index_T)
        row[f"orderedness_{which}"] = orderedness(emb_TD, index_T).spearman
        row[f"R_P_{which}"] = parity_split(emb_TD, index_T).ratio
    return row


@dataclass(frozen=True)
class EmbeddingGeometry:
    """Geometry of one embedding table over the indices that occur in the data.

    Attributes:
        name: ``Z`` or ``N``.
        index_T: the proton (neutron) numbers of the rows.
        basis: PCA of the rows.
        order: orderedness along PC0.
        parity: parity split R_P (full embedding space).
        helix: helix fitted to the rows' coordinates on the first ``helix_pcs`` PCs, t = index.
        slow_helix: the same fit restricted to periods ≥ 1/``SLOW_HELIX_MAX_FREQUENCY``.
        helix_pcs: number of leading PCs the helix is fitted in.
        fit_range: the index range (inclusive) of ``range_helix``.
        range_helix: the slow-helix fit over the rows with index in ``fit_range`` only, in the same PC
            coordinates (None when fewer than ``MIN_RANGE_ROWS`` rows fall in it).
    """

    name: str
    index_T: np.ndarray
    basis: PCA
    order: Orderedness
    parity: ParitySplit
    helix: HelixFit
    slow_helix: HelixFit
    helix_pcs: int
    fit_range: tuple[int, int] | None = None
    range_helix: HelixFit | None = None

    def row(self) -> dict:
        """Headline numbers: orderedness, R_P, helix R², radius, period, pitch and turns over the index range
        (``slow_helix_*``: the same for the fit with period ≥ 4)."""
        n = self.name
        row = {f"orderedness_{n}": self.order.spearman, f"R_P_{n}": self.parity.ratio,
               f"helix_variance_{n}": float(self.basis.explained_variance_ratio_K[: self.helix_pcs].sum())}
        fits = [("helix", self.helix), ("slow_helix", self.slow_helix)]
        if self.range_helix is not None:
            fits.append(("range_helix", self.range_helix))
            row |= {f"range_helix_from_{n}": self.fit_range[0], f"range_helix_to_{n}": self.fit_range[1]}
        for label, h in fits:
            row |= {f"{label}_r2_{n}": h.r2, f"{label}_radius_{n}": h.radius, f"{label}_period_{n}": 1.0 / h.frequency,
                    f"{label}_pitch_{n}": h.pitch, f"{label}_turns_{n}": h.turns}
        return row


def _slow_freqs(t_T: np.ndarray) -> np.ndarray:
    span = float(np.ptp(t_T))
    return np.linspace(0.5 / span, SLOW_HELIX_MAX_FREQUENCY, max(64, int(8 * span * SLOW_HELIX_MAX_FREQUENCY)))


def embedding_geometry(emb_TD: np.ndarray, index_T: np.ndarray, name: str, helix_pcs: int = 3,
                       fit_range: tuple[int, int] | None = None) -> EmbeddingGeometry:
    """PCA, orderedness, parity split and helix of an embedding table ``emb_TD`` with row indices ``index_T``;
    ``fit_range`` (default ``HELIX_RANGES[name]``, the paper's) restricts one more slow-helix fit to the rows
    whose index lies in it (inclusive), in the PC coordinates of all rows."""
    basis = pca(emb_TD)
    coords_TP, t_T = basis.projections_BK[:, :helix_pcs], index_T.astype(np.float64)
    fit_range = fit_range if fit_range is not None else HELIX_RANGES.get(name)
    range_helix = None
    if fit_range is not None:
        if fit_range[0] >= fit_range[1]:
            raise PhyslensError(f"helix fit range must be (low, high) with low < high; got {fit_range}")
        inside_T = (t_T >= fit_range[0]) & (t_T <= fit_range[1])
        if inside_T.sum() >= MIN_RANGE_ROWS:
            range_helix = fit_helix(coords_TP[inside_T], t_T[inside_T], freqs_G=_slow_freqs(t_T[inside_T]))
    return EmbeddingGeometry(name, index_T, basis, orderedness(emb_TD, index_T), parity_split(emb_TD, index_T),
                             fit_helix(coords_TP, t_T), fit_helix(coords_TP, t_T, freqs_G=_slow_freqs(t_T)), helix_pcs,
                             fit_range, range_helix)


@dataclass(frozen=True)
class NuclearAnalysis:
    """Everything measured on one run (exact, over all K experimental nuclei; MeV).

    Attributes:
        nuclei: per nucleus ``Z``, ``N``, ``A``, measured ``B`` and ``train`` (bool).
        embeddings: ``{"Z": ..., "N": ...}`` embedding geometry.
        truncation: per hook point, B RMS (MeV) against the number of PCs kept.
        topography: the B readout (B/A or B, MeV) over a plane of Z-embedding PCs 0 and 1 at ``topography_N``.
        topography_N: the neutron number of the topography.
        helix_perturbation: B RMS over all and held-out nuclei per (embedding, parameter, factor).
        penultimate: PCA of the penultimate activations for the B task.
        match: cosine similarity of the leading penultimate PCs with the terms of ``TERMS``.
        symbolic: one formula per leading PC, fitted on the training nuclei.
        formula: B fitted as A·(c0 + Σ c_k f_k) (readout B/A) or c0 + Σ c_k f_k (readout B) on the training nuclei.
        rms_model_val: the model's held-out B RMS.
        rms_semf_train: the SEMF's (fitted on the training nuclei) training B RMS.
        rms_semf_val: its held-out B RMS.
    """

    nuclei: pd.DataFrame
    embeddings: dict[str, EmbeddingGeometry]
    truncation: dict[str, TruncationCurve]
    topography: Topography
    topography_N: int
    helix_perturbation: pd.DataFrame
    penultimate: PCA
    match: TermMatch
    symbolic: tuple[SymbolicFit, ...]
    formula: FormulaCombination
    rms_model_val: float
    rms_semf_train: float
    rms_semf_val: float

    def best_pc_per_term(self) -> pd.DataFrame:
        """Per physics term, the penultimate PC most similar to it and the signed cosine."""
        sim = self.match.to_frame()
        best = sim.abs().idxmax(axis=0)
        return pd.DataFrame({"term": sim.columns, "pc": best.to_numpy(),
                             "cos": [sim.loc[best[t], t] for t in sim.columns]})

    def symbolic_frame(self) -> pd.DataFrame:
        """One row per PC: its formula, RMS (PC units), R², complexity and search time."""
        return pd.concat([f.to_frame().assign(pc=f"PC{k}") for k, f in enumerate(self.symbolic)], ignore_index=True)

    def summary(self) -> dict:
        """Headline figures (energies in MeV)."""
        best = self.match.best_frame()
        terms = self.best_pc_per_term().set_index("term")
        out = {"n_nuclei": len(self.nuclei), "n_train": int(self.nuclei.train.sum()), "rms_model_val": self.rms_model_val,
               "rms_semf_train": self.rms_semf_train, "rms_semf_val": self.rms_semf_val,
               "rms_formula_train": self.formula.rms_train, "rms_formula_val": self.formula.rms_test,
               "pc0_best_term": best.term.iloc[0], "pc0_best_cos": float(best.cos.iloc[0])}
        for term in ("volume", "pairing", "shell_P"):
            out[f"{term}_best_pc"], out[f"{term}_best_cos"] = terms.loc[term, "pc"], float(terms.loc[term, "cos"])
        for geometry in self.embeddings.values():
            out |= geometry.row()
        return out


def _readout_B(lens: Lens, x_K3: np.ndarray, factor_K: np.ndarray, hook: str, shape: tuple[int, ...]):
    """Row-wise readout for ``truncation_curve``: activations (n·K, prod(shape)) at ``hook`` → B (MeV).

    ``factor_K`` turns the model's value into B (``evaluate.binding_factor``)."""
    def readout(acts_ND):
        n = acts_ND.shape[0] // len(x_K3)
        replaced = jnp.asarray(acts_ND.reshape(-1, *shape))
        out = lens.run_with_hooks(jnp.asarray(np.tile(x_K3, (n, 1))), {hook: lambda _: replaced})
        return np.asarray(out) * np.tile(factor_K, n)
    return readout


def _truncation(lens: Lens, x_K3, factor_K, binding_K, cache: dict) -> dict[str, TruncationCurve]:
    curves = {}
    for hook, acts in cache.items():
        acts = np.asarray(acts)
        acts_KD = acts.reshape(len(x_K3), -1)
        top = min(acts_KD.shape)
        ks = sorted({k for k in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128) if k < top} | {top})
        curves[hook] = truncation_curve(acts_KD, _readout_B(lens, x_K3, factor_K, hook, acts.shape[1:]), binding_K, ks=ks)
    return curves


def _helix_perturbation(lens: Lens, x_K3, nuclei, factor_K, geometries: dict[str, EmbeddingGeometry],
                        variables) -> pd.DataFrame:
    """B RMS with each embedding's helix component replaced by a perturbed helix (one batched pass per table)."""
    binding_K, val_K = nuclei.B.to_numpy(), ~nuclei.train.to_numpy()
    rows, P, K = [], len(PERTURBATIONS), len(x_K3)
    for name, g in geometries.items():
        table = np.asarray(variables["params"][f"embed_{name}"]["embedding"])
        coords_T3 = g.basis.projections_BK[:, : g.helix_pcs]
        fitted = {"radius": g.helix.radius, "frequency": g.helix.frequency, "pitch": g.helix.pitch}
        tables_PTD = np.repeat(table[None], P, axis=0)
        for p, (param, factor) in enumerate(PERTURBATIONS):
            change = {} if param == "none" else {param: fitted[param] * factor}
            moved_T3 = g.helix.points(with_residual=True, **change) - coords_T3
            tables_PTD[p, g.index_T] += moved_T3 @ g.basis.components_KD[: g.helix_pcs]
        x_PK3 = np.tile(x_K3, (P, 1))
        rows_PKD = jnp.asarray(tables_PTD[np.repeat(np.arange(P), K), x_PK3[:, _COLUMNS[name]]])
        out_PK = np.asarray(lens.run_with_hooks(jnp.asarray(x_PK3), {f"embed.{name}": lambda _: rows_PKD})).reshape(P, K)
        err_PK = out_PK * factor_K - binding_K
        for p, (param, factor) in enumerate(PERTURBATIONS):
            rows.append({"embedding": name, "parameter": param, "factor": factor,
                         "rms_all_MeV": float(np.sqrt(np.mean(err_PK[p] ** 2))),
                         "rms_val_MeV": float(np.sqrt(np.mean(err_PK[p, val_K] ** 2)))})
    return pd.DataFrame(rows)


def analyse(run: Run, *, n_pcs: int = 8, sr_pcs: int = 6, topography_N: int = 82, generations: int = 200,
            population_size: int = 1000, max_length: int = 30, seed: int = 0) -> NuclearAnalysis:
    """The full analysis of a nuclear run (its model must predict the task ``B``).

    ``n_pcs`` penultimate PCs are matched to physics terms; the first ``sr_pcs`` of them
    get a symbolic formula (Operon, ``generations``, ``population_size``, ``max_length``,
    ``seed``); ``topography_N`` is the neutron number of the latent topography. Six
    formulas by default: with the total-B readout the exact first four PCs already give a
    held-out B RMS above the fitted SEMF's (docs/studies/nuclear/RESULTS.md).
    """
    run = run if run.model is not None else load(run.path)
    model, variables, data = run.model, run.variables, run.system
    if "B" not in model.tasks:
        raise PhyslensError(f"the analysis needs a model of the task B; this one predicts {', '.join(model.tasks)}")
    if not 1 <= sr_pcs <= n_pcs <= model.width:
        raise PhyslensError(f"need 1 <= sr_pcs <= n_pcs <= width ({model.width}); got sr_pcs={sr_pcs}, n_pcs={n_pcs}")
    nuclei = data.nuclei[["Z", "N", "A", "B", "train"]].reset_index(drop=True)
    if not ((nuclei.N == topography_N).any()):
        raise PhyslensError(f"no nucleus has N = {topography_N}; allowed: N in {nuclei.N.min()}..{nuclei.N.max()}")
    Z_K, N_K, binding_K = (nuclei[c].to_numpy() for c in ("Z", "N", "B"))
    train_K = nuclei.train.to_numpy()
    x_K3 = np.stack([Z_K, N_K, np.full(len(Z_K), model.tasks.index("B"))], axis=1)
    lens = Lens(model, variables)
    hooks = [*(f"blocks.{i}.resid" for i in range(model.depth)), "penultimate"]
    out_K, cache = lens.run_with_cache(jnp.asarray(x_K3), hooks)
    geometries = {w: embedding_geometry(embedding_table(variables, w, idx), idx, w)
                  for w, idx in ((w, np.unique(nuclei[w])) for w in _COLUMNS)}

    def predict_plane(rows_ND):
        x_N3 = np.tile([[int(Z_K[0]), topography_N, model.tasks.index("B")]], (len(rows_ND), 1))
        return np.asarray(lens.run_with_hooks(jnp.asarray(x_N3), {"embed.Z": lambda _: jnp.asarray(rows_ND)}))

    pen = pca(np.asarray(cache["penultimate"]))
    terms = {t: v for t, v in term_vectors(Z_K, N_K).items() if t in TERMS}
    match = match_terms(pen.projections_BK[:, :n_pcs], terms, feature_names=[f"PC{k}" for k in range(n_pcs)])
    X_K2 = np.stack([Z_K, N_K], axis=1).astype(np.float64)
    fits = tuple(fit_symbolic(X_K2[train_K], pen.projections_BK[train_K, k], ("Z", "N"), generations=generations,
                              population_size=population_size, max_length=max_length, seed=seed) for k in range(sr_pcs))
    factor_K = binding_factor(model, Z_K, N_K)
    pc_formulas_KF = np.column_stack([f.predict(X_K2) for f in fits])
    names = [f"f_PC{k}(Z,N)" for k in range(sr_pcs)]
    if model.binding_per_nucleon:
        pc_formulas_KF = np.column_stack([np.ones(len(Z_K)), pc_formulas_KF]) * factor_K[:, None]
        names = ["A", *(f"A*{name}" for name in names)]
    semf = semf_baseline(data)
    model_B_K = np.asarray(out_K) * factor_K
    return NuclearAnalysis(
        nuclei=nuclei,
        embeddings=geometries,
        truncation=_truncation(lens, x_K3, factor_K, binding_K, cache),
        topography=latent_topography(geometries["Z"].basis, predict_plane, batched=True),
        topography_N=topography_N,
        helix_perturbation=_helix_perturbation(lens, x_K3, nuclei, factor_K, geometries, variables),
        penultimate=pen,
        match=match,
        symbolic=fits,
        formula=combine_formulas(pc_formulas_KF, binding_K, train_K, names),
        rms_model_val=float(np.sqrt(np.mean((model_B_K - binding_K)[~train_K] ** 2))),
        rms_semf_train=semf["train_rms"],
        rms_semf_val=semf["val_rms"],
    )
