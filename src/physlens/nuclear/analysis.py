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
from physlens.lens.hooks import Lens
from physlens.lens.symbolic import FormulaCombination, SymbolicFit, combine_formulas, fit_symbolic
from physlens.nuclear.embeddings import COLUMNS, EmbeddingGeometry, embedding_geometries
from physlens.nuclear.evaluate import binding_factor, rms, semf_baseline
from physlens.nuclear.structure import TERMS
from physlens.nuclear.terms import term_vectors
from physlens.nuclear.train import load
from physlens.runs import Run

PERTURBATIONS: tuple[tuple[str, float], ...] = (("none", 1.0), ("radius", 0.5), ("radius", 1.5),
                                                ("frequency", 0.9), ("frequency", 1.1), ("pitch", 0.5), ("pitch", 1.5))
"""Helix perturbations: (parameter, factor applied to its fitted value); the pitch sets the helix's length."""


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
        helix_predictions: the predicted B (MeV) per (embedding, parameter, factor) and nucleus (Z, N).
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
    helix_predictions: pd.DataFrame
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
                        variables) -> tuple[pd.DataFrame, pd.DataFrame]:
    """B RMS with each embedding's helix component replaced by a perturbed helix (one batched pass per table),
    and the predictions themselves (one row per embedding, perturbation and nucleus)."""
    binding_K, val_K = nuclei.B.to_numpy(), ~nuclei.train.to_numpy()
    rows, predictions, P, K = [], [], len(PERTURBATIONS), len(x_K3)
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
        rows_PKD = jnp.asarray(tables_PTD[np.repeat(np.arange(P), K), x_PK3[:, COLUMNS[name]]])
        out_PK = np.asarray(lens.run_with_hooks(jnp.asarray(x_PK3), {f"embed.{name}": lambda _: rows_PKD})).reshape(P, K)
        err_PK = out_PK * factor_K - binding_K
        for p, (param, factor) in enumerate(PERTURBATIONS):
            rows.append({"embedding": name, "parameter": param, "factor": factor,
                         "rms_all_MeV": float(np.sqrt(np.mean(err_PK[p] ** 2))),
                         "rms_val_MeV": float(np.sqrt(np.mean(err_PK[p, val_K] ** 2)))})
            predictions.append(pd.DataFrame({"embedding": name, "parameter": param, "factor": factor,
                                             "Z": x_K3[:, 0], "N": x_K3[:, 1], "B_MeV": out_PK[p] * factor_K}))
    return pd.DataFrame(rows), pd.concat(predictions, ignore_index=True)


def perturb_helix(run: Run) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The helix perturbations of ``analyse`` alone (no symbolic regression): the B RMS table and the predicted
    B (MeV) per (embedding, parameter, factor) and nucleus."""
    run = run if run.model is not None else load(run.path)
    model, variables = run.model, run.variables
    nuclei = run.system.nuclei[["Z", "N", "A", "B", "train"]].reset_index(drop=True)
    Z_K, N_K = nuclei.Z.to_numpy(), nuclei.N.to_numpy()
    x_K3 = np.stack([Z_K, N_K, np.full(len(Z_K), model.tasks.index("B"))], axis=1)
    return _helix_perturbation(Lens(model, variables), x_K3, nuclei, binding_factor(model, Z_K, N_K),
                               embedding_geometries(variables, nuclei), variables)


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
    geometries = embedding_geometries(variables, nuclei)

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
    perturbation, perturbed = _helix_perturbation(lens, x_K3, nuclei, factor_K, geometries, variables)
    return NuclearAnalysis(
        nuclei=nuclei,
        embeddings=geometries,
        truncation=_truncation(lens, x_K3, factor_K, binding_K, cache),
        topography=latent_topography(geometries["Z"].basis, predict_plane, batched=True),
        topography_N=topography_N,
        helix_perturbation=perturbation,
        helix_predictions=perturbed,
        penultimate=pen,
        match=match,
        symbolic=fits,
        formula=combine_formulas(pc_formulas_KF, binding_K, train_K, names),
        rms_model_val=float(np.sqrt(np.mean((model_B_K - binding_K)[~train_K] ** 2))),
        rms_semf_train=semf["train_rms"],
        rms_semf_val=semf["val_rms"],
    )


@dataclass(frozen=True)
class DirectFormula:
    """The symbolic baseline that skips the network: B(Z, N) searched directly on the training nuclei.

    Attributes:
        fit: the Operon search (formula, training RMS, complexity, seconds).
        generations: generations of the search (the PC route's total: generations × formulas).
        rms_train: B RMS on the training nuclei, MeV.
        rms_val: B RMS on the held-out nuclei, MeV.
    """

    fit: SymbolicFit
    generations: int
    rms_train: float
    rms_val: float


def direct_formula(run: Run, *, sr_pcs: int = 6, generations: int = 200, population_size: int = 1000,
                   max_length: int = 30, seed: int = 0) -> DirectFormula:
    """Operon on (Z, N) → B (MeV) over the run's training nuclei with the budget of the PC route of ``analyse``
    (``sr_pcs`` searches of ``generations`` each: one search of ``sr_pcs × generations``)."""
    run = run if run.model is not None else load(run.path)
    nuclei = run.system.nuclei
    X_K2, B_K = nuclei[["Z", "N"]].to_numpy(np.float64), nuclei.B.to_numpy()
    train_K = nuclei.train.to_numpy()
    total = sr_pcs * generations
    fit = fit_symbolic(X_K2[train_K], B_K[train_K], ("Z", "N"), generations=total, population_size=population_size,
                       max_length=max_length, seed=seed)
    err_K = fit.predict(X_K2) - B_K
    return DirectFormula(fit, total, rms(err_K[train_K]), rms(err_K[~train_K]))
