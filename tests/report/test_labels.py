"""Human labels of result columns: units where the quantity has one, names for observables and tasks."""

from physlens.report.labels import label


def test_exact_names_carry_units():
    assert label("e_zero", unit="J") == "E, hook zero-ablated [J]"
    assert label("energy", unit="stabiliser coefficient") == "E [stabiliser coefficient]"
    assert label("rms_semf_val") == "held-out B RMS, SEMF [MeV]"
    assert label("single_val_rms_MeV") == "held-out RMS, single-task [MeV]"


def test_patterns_compose_names():
    assert label("val_rms_Q_beta_minus") == "held-out RMS of Q_β⁻ [MeV]"
    assert label("val_rms_B_mean") == "mean held-out RMS of B [MeV]"
    assert label("r[abs_m_s]") == "r with |m_s|"
    assert label("spearman[c_nn]") == "Spearman ρ(strength, C_zz, nearest neighbours)"
    assert label("slow_helix_period_N") == "period of the slow helix (period ≥ 4), N embedding"
    assert label("delta_czz[3]") == "ΔC_zz(r = 3)"
    assert label("abs_m_s_err") == "error of |m_s|"


def test_unknown_names_lose_their_underscores():
    assert label("some_new_column") == "some new column"
