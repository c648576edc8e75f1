"""What the ``physlens`` sub-commands share: error lines, notes, tables, reusing a run."""

import errno
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from physlens.cli import common
from physlens.errors import PhyslensError
from physlens.quantum import train as training


def test_error_line_for_os_errors_names_the_path_and_what_is_allowed():
    line = common.error_line(OSError(errno.ENOSPC, "No space left on device", "/data/run"))
    assert line == "No space left on device (/data/run); allowed: free some space, or choose a folder on another disk"
    assert common.error_line(PhyslensError("bad\n  value")) == "bad value"


def test_library_warnings_become_one_line_notes(capsys):
    with common.warnings_as_notes():
        warnings.warn("\nNo artists with labels found to put in legend.\nSecond line")
        warnings.warn("No artists with labels found to put in legend.")
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["physlens: note: No artists with labels found to put in legend."]


def test_frame_table_drops_all_nan_rows_and_columns_and_shows_units():
    frame = pd.DataFrame({"task": ["B", "S_n", "Q"], "rms": [0.123456, 0.5, np.nan], "empty": [np.nan] * 3})
    console = Console(width=200, record=True)
    console.print(common.frame_table(frame, "held-out", {"rms": "MeV"}))
    text = console.export_text()
    assert "rms [MeV]" in text and "0.1235" in text and "empty" not in text and " Q " not in text


def test_train_or_reuse_resumes_the_same_run_and_refuses_another(tmp_path):
    cfg = training.TrainConfig(size=6, alpha=1.0, steps=5, tol=0.0)
    out = tmp_path / "run"
    first = common.train_or_reuse(cfg, out, "nqs run", training.train, training.resume, progress=False)
    status = (out / "status.json").read_bytes()
    again = common.train_or_reuse(cfg, out, "nqs run", training.train, training.resume, progress=False)
    assert (out / "status.json").read_bytes() == status and json.loads(status)["step"] == 5
    assert again.config == first.config
    other = training.TrainConfig(size=6, alpha=2.0, steps=5, tol=0.0)
    with pytest.raises(PhyslensError, match="holds an nqs run of another configuration"):
        common.train_or_reuse(other, out, "nqs run", training.train, training.resume, progress=False)
    assert (out / "status.json").read_bytes() == status
