"""Structure measures of a nuclear regressor at one moment of training, and their record along a run.

Kitouni et al. ("From Neurons to Neutrons", arXiv 2405.17425, Fig. 16) follow how the
embeddings' order, parity split and helix form during training. ``structure_row`` measures,
exactly over the run's nuclei:

- ``orderedness_Z``/``_N`` (|Spearman ρ| along PC0) and ``R_P_Z``/``_N`` (parity split);
- the slow helix over the paper's range (``embeddings.HELIX_RANGES``): ``helix_r2``,
  ``helix_turns``, ``helix_radius`` per table (NaN when too few rows fall in the range);
- per physics term of ``TERMS``, the largest |cosine| of the leading ``n_pcs`` penultimate
  PCs with it (``cos_<term>``) and which PC that is (``pc_<term>``).

A run with ``structure_every > 0`` records one row every that many steps, step 0 included,
in ``structure.jsonl`` (``physlens.nuclear.train``, through ``Run.write_rows``); ``frame(run)`` reads it back::

    rows = structure_row(model, variables, data)      # one dict, the model as it is now
    frame(run)                                         # one row per recorded step
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pandas as pd

from physlens.lens.geometry import match_terms, pca
from physlens.lens.hooks import Lens
from physlens.nuclear.embeddings import embedding_geometries
from physlens.nuclear.model import NuclearModel
from physlens.nuclear.targets import NuclearData
from physlens.nuclear.terms import SEMF_TERMS, term_vectors
from physlens.runs import Run

TERMS: tuple[str, ...] = (*SEMF_TERMS, "shell_P", "shell_P2")
"""Physics terms the penultimate PCs are matched to (vectors of ``terms.term_vectors``)."""
FILE = "structure.jsonl"
"""A run's record of structure measures, one JSON row per recorded step."""


def structure_row(model: NuclearModel, variables: dict, data: NuclearData, n_pcs: int = 8) -> dict:
    """The structure measures of ``model`` with ``variables`` over ``data.nuclei`` (see the module docstring).

    The penultimate activations are those of the task ``B`` (the first task when B is not trained)."""
    nuclei = data.nuclei
    row: dict = {}
    for which, geometry in embedding_geometries(variables, nuclei).items():
        row |= {f"orderedness_{which}": geometry.order.spearman, f"R_P_{which}": geometry.parity.ratio}
        fit = geometry.range_helix
        for name in ("r2", "turns", "radius"):
            row[f"helix_{name}_{which}"] = float(getattr(fit, name)) if fit is not None else float("nan")
    Z_K, N_K = nuclei.Z.to_numpy(), nuclei.N.to_numpy()
    task = model.tasks.index("B") if "B" in model.tasks else 0
    x_K3 = jnp.asarray(np.stack([Z_K, N_K, np.full(Z_K.size, task)], axis=1))
    _, cache = Lens(model, variables).run_with_cache(x_K3, ["penultimate"])
    basis = pca(np.asarray(cache["penultimate"]))
    k = min(n_pcs, basis.projections_BK.shape[1])
    terms = {t: v for t, v in term_vectors(Z_K, N_K).items() if t in TERMS}
    similarity = match_terms(basis.projections_BK[:, :k], terms, feature_names=[f"PC{i}" for i in range(k)]).to_frame()
    for term in TERMS:
        column = similarity[term].abs()
        row[f"cos_{term}"], row[f"pc_{term}"] = float(column.max()), int(column.to_numpy().argmax())
    return row


def frame(run: Run) -> pd.DataFrame:
    """A run's structure measures, one row per recorded step (column ``step``)."""
    return pd.DataFrame(run.read_rows(FILE))
