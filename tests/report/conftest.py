"""Shared tables of the report tests."""

import pandas as pd
import pytest


@pytest.fixture
def widths_table() -> pd.DataFrame:
    """A width scan of three trained widths and one that did not train."""
    return pd.DataFrame({"width": [64, 128, 256, 512], "trained": [True, True, True, False], "steps": 3000,
                         "helix_r2_Z": [0.5, 0.62, 0.71, 0.0], "helix_r2_N": [0.4, 0.45, 0.52, 0.0],
                         "cos_shell_P": [0.3, 0.35, 0.33, 0.0], "cos_pairing": [0.6, 0.7, 0.8, 0.0],
                         "cos_volume": [0.9, 0.92, 0.95, 0.0], "val_rms_B": [3.3, 3.0, 2.9, 900.0],
                         "train_rms_B": [2.0, 1.5, 1.2, 800.0], "learning_rate": 1e-3})
