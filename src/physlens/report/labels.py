"""Human names, with units, for the column names and keys of physlens result tables.

Results keep short machine names (``val_rms_B``, ``frac_mean``, ``r[m_z]``); a report shows
them as a physicist would write them::

    label("val_rms_B")                  # 'held-out RMS of B [MeV]'
    label("e_clean", unit="J")          # 'E, clean model [J]'
    label("spearman[abs_m_s]")          # 'Spearman ρ(strength, |m_s|)'

Energies of spin systems come in the unit of their Hamiltonian (passed as ``unit``); every
nuclear quantity is in MeV. A name with no entry is shown with its underscores as spaces.
"""

from __future__ import annotations

import re

ENERGY = "{unit}"
"""Placeholder for the energy unit of the system a table belongs to."""

OBSERVABLES = {
    "m_z": "m_z", "abs_m_z": "|m_z|", "m_z_sq": "m_z²", "m_x": "m_x", "m_s": "m_s", "abs_m_s": "|m_s|", "c_nn": "C_zz, nearest neighbours",
    "c_far": "C_zz, farthest pair", "halves": "m_A·m_B, two halves", "domain_walls": "domain walls", "e_loc": "local energy",
    "bond_energy_x": "bond energy (x)", "bond_energy_y": "bond energy (y)", "czz": "C_zz(r)",
}
"""Per-configuration observables of the spin systems, by their result names."""

NUCLEAR_TASKS = {
    "B": "B", "S_n": "S_n", "S_p": "S_p", "S_2n": "S_2n", "S_2p": "S_2p", "Q_alpha": "Q_α",
    "Q_beta_minus": "Q_β⁻", "Q_EC": "Q_EC",
}
"""Nuclear targets (all in MeV), by their result names."""

LABELS = {
    # spin systems, hidden units
    "N": "sites N", "alpha": "α = M/N", "seed": "seed", "M": "hidden units M", "tau": "τ", "mode": "training",
    "state": "state", "steps": "steps", "reason": "reason", "models": "models", "converged": "converged",
    "failed": "failed", "m_important": "important units m′", "frac_important": "m′/M", "frac_mean": "mean m′/M",
    "frac_std": "sd of m′/M", "m_mean": "mean m′", "rho": "ρ", "rho_low": "ρ from", "rho_high": "ρ to", "rho_at_0.0001": "ρ at error 1e-4", "rho_at_0.001": "ρ at error 1e-3",
    "rho_at_0.01": "ρ at error 1e-2", "rho_mean": "mean ρ", "eps": "ε = |E − E0|/|E0|",
    "eps_mean": "mean ε", "a": "prefactor a", "k": "exponent k", "a_se": "SE(a)", "k_se": "SE(k)", "r2": "R²",
    "n_points": "points", "tau_min": "smallest τ with k < 1", "tau_max": "largest τ with k < 1",
    "taus_below": "τ values with k < 1", "taus_fitted": "τ values with a fit over ≥ 3 sizes", "taus": "τ values",
    "energy": f"E [{ENERGY}]",
    "energy_full": f"E, full model [{ENERGY}]", "energy_important": f"E, important units only [{ENERGY}]",
    "energy_rest": f"E, other units only [{ENERGY}]", "unit_index": "unit j", "unit": "unit",
    "s_afm": "S_AFM", "abs_s_afm": "|S_AFM|", "delta_energy": f"ΔE on ablation [{ENERGY}]",
    "energy_impact": "|ΔE|/|E_full|", "czz_impact": "Σ|ΔC_zz|/Σ|C_zz|", "observable_impact": "Σ|ΔC|/Σ|C|",
    "energy_retained": f"E with unit kept alone [{ENERGY}]", "important": "important",
    "mean_abs_s_afm_important": "mean |S_AFM|, important units", "mean_abs_s_afm_rest": "mean |S_AFM|, other units",
    "exact": "exact sums", "unit_of_energy": "energy unit", "energy_ablated": f"E with unit removed [{ENERGY}]",
    "energy_ablated_err": f"error of E with unit removed [{ENERGY}]", "energy_fraction": "E / E_full", "model": "model",
    "best": "best pattern", "staggered_full": "Néel character A of C_zz(r)",
    "n_phase_inverted": "units whose removal inverts C_zz(r)", "staggered_removed": "A with unit removed",
    "phase_inverted": "removal inverts C_zz(r)", "important_by": "important by", "variance": f"energy variance [{ENERGY}²]",
    "m_energy": "important by energy", "m_correlation": "important by correlation",
    "max_energy_impact": "largest |ΔE|/|E|", "max_czz_impact": "largest Σ|ΔC_zz|/Σ|C_zz|",
    "recovered_important": "E important only / E", "recovered_rest": "E rest only / E",
    "paper_frac": "paper m′/M", "paper_rho": "paper ρ", "paper_k": "paper k", "rho_std": "sd of ρ",
    "max_impact_median": "median largest |ΔE|/|E|", "norm_median": "median ‖W_j‖₂", "steps_median": "median steps",
    "eps_median": "median ε", "protocol": "protocol", "weight_sz0": "weight with S^z = 0",
    "energy_sampled": f"E sampled [{ENERGY}]", "path": "path to ε < tol", "m_zero": "models with m′ = 0",
    "frac_median": "median m′/M", "first_collapse_step": "first collapsed check (step)",
    "before_step": "last snapshot before it (step)", "before_eps": "ε before the collapse",
    "before_frac": "m′/M before the collapse", "before_rho": "ρ before the collapse",
    # SAE and steering
    "system": "system", "n_sites": "sites", "hook": "hook", "arch": "SAE architecture", "d_sae": "SAE latents",
    "method": "method", "n_configurations": "configurations", "mse": "normalised MSE",
    "explained_variance": "explained variance", "l0": "L0 (active latents)", "dead_fraction": "dead fraction",
    "dense_fraction": "dense fraction", "shrinkage": "shrinkage", "dense_above": "dense above frequency",
    "n_inputs": "training tokens", "e_clean": f"E, clean model [{ENERGY}]", "e_sae": f"E, SAE spliced in [{ENERGY}]",
    "e0": f"E0, reference [{ENERGY}]", "e0_method": "reference method", "model_eps": "model ε = |E − E0|/|E0|",
    "e_zero": f"E, hook zero-ablated [{ENERGY}]", "ess_sae": "ESS/S, SAE spliced in", "ess_zero": "ESS/S, zero-ablated",
    "energy_recovered": "energy recovered", "fidelity": "fidelity |⟨ψ|ψ_sae⟩|²",
    "fidelity_dense": "fidelity with dense", "split_n": "split features", "s_low": "quiet from (strength)", "s_high": "quiet to (strength)",
    "obs_low": "target at start", "obs_high": "target at end", "obs_span": "change of target",
    "split_combined_r": "r of their best combination", "fidelity_previous": "fidelity with level before", "target": "steered observable",
    "feature": "feature", "feature_r": "r of the steered feature", "admissible_points": "admissible points",
    "n_points_steering": "points", "max_rel_energy_dev": "max |ΔE|/|E| (admissible)", "frequency": "firing frequency",
    "best_observable": "best-matched observable", "r": "Pearson r", "abs_r": "|r|", "observable": "observable",
    "best_feature": "best feature", "captured": "captured", "spearman_rho": "Spearman ρ(strength, observable)",
    "strength": "strength", "energy_err": f"error of E [{ENERGY}]", "rel_energy_dev": "(E − E₁)/|E₁|",
    "ess_fraction": "ESS/S", "admissible": "admissible",
    # lottery tickets
    "level": "level", "arm": "arm", "density": "remaining fraction", "median": "median |E − E0|/|E0|",
    "low": "best seed", "high": "worst seed", "seeds": "seeds", "rel_error": "|E − E0|/|E0|", "rel_sem": "Monte Carlo σ_E/|E0| (median)", "question": "question",
    "answer": "answer", "detail": "detail", "x_low": "from remaining fraction", "x_high": "to remaining fraction",
    "exponent": "exponent", "density_before": "remaining fraction before", "density_after": "remaining fraction after",
    "jump_decades": "jump [decades]", "split_at_transition": "seeds split at the jump", "split_levels": "split levels",
    "n_kept": "weights kept", "extent": "extent [lattice spacings]", "within_range": "within interaction range",
    "kind": "kind", "plaquette_overlap": "plaquette overlap J", "best_plaquette": "best plaquette",
    "star_overlap": "star overlap J", "best_star": "best star", "negative_weights": "negative weights",
    "sign_product": "sign product",
    # nuclear
    "n_nuclei": "nuclei", "n_train": "training nuclei", "rms_model_val": "held-out B RMS, model [MeV]",
    "rms_semf_train": "training B RMS, SEMF [MeV]", "rms_semf_val": "held-out B RMS, SEMF [MeV]",
    "rms_formula_train": "training B RMS, symbolic formula [MeV]", "rms_formula_val": "held-out B RMS, symbolic formula [MeV]",
    "pc0_best_term": "term best matched by PC0", "pc0_best_cos": "cos(PC0, best term)",
    "fraction": "training fraction", "name": "name", "tasks": "tasks", "seconds": "wall time [s]",
    "single_val_rms_MeV": "held-out RMS, single-task [MeV]", "multi_val_rms_MeV": "held-out RMS, multi-task [MeV]",
    "task": "target", "metric": "metric", "value": "value", "quantity": "quantity", "term": "term", "pc": "PC",
    "cos": "cosine", "embedding": "embedding", "fit": "fit", "period": "period", "turns": "turns", "radius": "radius R",
    "pitch": "pitch P", "scaled": "scaled part", "factor": "factor", "rms": "B RMS [MeV]", "ks": "PCs kept",
    "rms_full": "B RMS, untouched [MeV]",
}
"""Exact names → labels; ``{unit}`` stands for the energy unit."""

_PATTERNS = [
    (r"^delta_czz\[(\d+)\]$", "ΔC_zz(r = {0})"),
    (r"^czz\[(\d+)\]$", "C_zz(r = {0})"),
    (r"^(.+)_impact$", "impact on {0}"),
    (r"^r\[(.+)\]$", "r with {0}"),
    (r"^best_abs_r\[(.+)\]$", "best |r| with {0}"),
    (r"^latent_probe_r\[(.+)\]$", "linear probe on latents, r with {0}"),
    (r"^probe_ceiling_r\[(.+)\]$", "linear probe on activations, r with {0}"),
    (r"^spearman\[(.+)\]$", "Spearman ρ(strength, {0})"),
    (r"^(.+)_err$", "error of {0}"),
    (r"^(.+)_mean$", "mean {0}"),
    (r"^(.+)_sd$", "sd of {0}"),
    (r"^(.+)_std$", "sd of {0}"),
    (r"^semf_val_rms_(.+)$", "held-out RMS of {0}, SEMF [MeV]"),
    (r"^val_rms_(.+)$", "held-out RMS of {0} [MeV]"),
    (r"^train_rms_(.+)$", "training RMS of {0} [MeV]"),
    (r"^orderedness_([ZN])$", "orderedness of the {0} embedding"),
    (r"^R_P_([ZN])$", "R_P of the {0} embedding"),
    (r"^range_helix_(from|to)_([ZN])$", "{0} of the {1} range of the range helix"),
    (r"^range_helix_(.+)_([ZN])$", "{0} of the slow helix over the paper's {1} range, {1} embedding"),
    (r"^slow_helix_(.+)_([ZN])$", "{0} of the slow helix (period ≥ 4), {1} embedding"),
    (r"^helix_(.+)_([ZN])$", "helix {0}, {1} embedding"),
    (r"^(.+)_best_pc$", "PC best matched to {0}"),
    (r"^(.+)_best_cos$", "cos(best PC, {0})"),
]


def _name(part: str) -> str:
    """An observable, a nuclear target or a short name, as shown."""
    if part in ("Z", "N"):
        return part
    return OBSERVABLES.get(part) or NUCLEAR_TASKS.get(part) or label(part, ENERGY)


def label(name: str, unit: str = "J") -> str:
    """The human label of a result column or key ``name``; ``unit`` is the energy unit of spin-system energies."""
    name = str(name)
    if name in LABELS:
        return LABELS[name].replace(ENERGY, unit)
    if name in OBSERVABLES:
        return OBSERVABLES[name]
    for pattern, template in _PATTERNS:
        match = re.match(pattern, name)
        if match:
            return template.format(*(_name(g) for g in match.groups())).replace(ENERGY, unit)
    return name.replace("_", " ")
