"""Predictions of a trained nuclear regressor and its held-out binding energies against the SEMF.

    predict(run, [82], [126], "B")        # total binding energy of 208Pb, MeV
    evaluate(run).rms_model               # held-out B RMS, MeV (vs .rms_semf)
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import numpy.typing as npt
import pandas as pd

from physlens.errors import PhyslensError
from physlens.nuclear.model import NuclearModel
from physlens.nuclear.targets import NuclearData
from physlens.nuclear.terms import SEMF_COEFFICIENTS, fit_semf, semf_design
from physlens.runs import Run

def binding_factor(model: NuclearModel, Z: npt.ArrayLike, N: npt.ArrayLike) -> np.ndarray:
    """Factor turning the model's value of the task ``B`` for nuclei (Z_K, N_K) into B in MeV, shape (K,).

    A = Z + N when the model predicts B/A (``binding_per_nucleon``), else 1.
    """
    A_K = np.asarray(Z, dtype=np.float64) + np.asarray(N, dtype=np.float64)
    return A_K if model.binding_per_nucleon else np.ones_like(A_K)


def _loaded(run: Run) -> Run:
    if run.model is None:
        raise PhyslensError(f"{run.path} is not loaded; open it with physlens.nuclear.train.load or physlens.open")
    return run


def predict(source: Run | NuclearModel, Z: npt.ArrayLike, N: npt.ArrayLike, task: str,
            variables: dict | None = None) -> np.ndarray:
    """Predictions for nuclei (Z_K, N_K), shape (K,), in MeV (``B``: total binding energy).

    ``source`` is a loaded run (``physlens.nuclear.train.load``) or a ``NuclearModel`` given with its ``variables``.
    """
    if isinstance(source, Run):
        run = _loaded(source)
        source, variables = run.model, run.variables
    if variables is None:
        raise PhyslensError("predict with a NuclearModel needs its variables; pass variables=...")
    if task not in source.tasks:
        raise PhyslensError(f"unknown task {task!r}; this model predicts: {', '.join(source.tasks)}")
    Z_K, N_K = np.atleast_1d(np.asarray(Z, dtype=np.int64)), np.atleast_1d(np.asarray(N, dtype=np.int64))
    if Z_K.shape != N_K.shape or Z_K.ndim != 1:
        raise PhyslensError(f"Z and N must be 1-D arrays of one length; got shapes {Z_K.shape} and {N_K.shape}")
    if ((Z_K < 0) | (Z_K >= source.n_z) | (N_K < 0) | (N_K >= source.n_n)).any():
        raise PhyslensError(f"Z and N must lie in [0, {source.n_z}) and [0, {source.n_n}), "
                            "the model's embedding tables")
    x_K3 = np.stack([Z_K, N_K, np.full(Z_K.size, source.tasks.index(task))], axis=1)
    out_K = np.asarray(source.apply(variables, jnp.asarray(x_K3)))
    return out_K * binding_factor(source, Z_K, N_K) if task == "B" else out_K


def semf_baseline(data: NuclearData) -> dict:
    """The SEMF fitted on the training nuclei: ``coefficients`` (MeV), ``B`` per nucleus and
    ``train_rms``, ``val_rms`` of B (MeV)."""
    nuclei, train = data.nuclei, data.nuclei.train.to_numpy()
    fit = fit_semf(nuclei.Z[train], nuclei.N[train], nuclei.B[train])
    semf_K = semf_design(nuclei.Z, nuclei.N) @ np.array([fit.coefficients[c] for c in SEMF_COEFFICIENTS])
    err_K = semf_K - nuclei.B.to_numpy()
    return {"coefficients": fit.coefficients, "B": semf_K, "train_rms": rms(err_K[train]), "val_rms": rms(err_K[~train])}


def rms(err_K: np.ndarray) -> float:
    """Root mean square, NaN for no values (a run with every nucleus in training has no held-out ones)."""
    return float(np.sqrt(np.mean(err_K**2))) if err_K.size else float("nan")


@dataclass(frozen=True)
class BindingEvaluation:
    """Held-out binding energies: the model against the SEMF fitted on the training nuclei only.

    Attributes:
        Z: proton numbers of the held-out nuclei, shape (K,).
        N: neutron numbers, shape (K,).
        binding: measured B, shape (K,), MeV.
        model: the model's B, shape (K,), MeV.
        semf: the SEMF's B, shape (K,), MeV.
        rms_model: RMS of model − binding, MeV.
        rms_semf: RMS of semf − binding, MeV.
    """

    Z: np.ndarray
    N: np.ndarray
    binding: np.ndarray
    model: np.ndarray
    semf: np.ndarray
    rms_model: float
    rms_semf: float

    def to_frame(self) -> pd.DataFrame:
        """Per held-out nucleus: Z, N, measured, model and SEMF B (MeV)."""
        return pd.DataFrame({"Z": self.Z, "N": self.N, "B_MeV": self.binding, "model_MeV": self.model,
                             "semf_MeV": self.semf})


def evaluate(run: Run) -> BindingEvaluation:
    """Held-out binding-energy RMS (MeV) of a run's model and of the SEMF fitted on its training nuclei."""
    run = _loaded(run)
    nuclei = run.system.nuclei
    held_out = ~nuclei.train.to_numpy()
    Z_K, N_K, binding_K = (nuclei[c].to_numpy()[held_out] for c in ("Z", "N", "B"))
    model_K, semf_K = predict(run, Z_K, N_K, "B"), semf_baseline(run.system)["B"][held_out]
    return BindingEvaluation(Z_K, N_K, binding_K, model_K, semf_K, rms(model_K - binding_K), rms(semf_K - binding_K))
