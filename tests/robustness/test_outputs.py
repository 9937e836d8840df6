"""Item 6: an output that cannot be written (under a file, under /proc, a folder where a file is wanted) is one
sentence and exit 2 in every command that writes, before any work where it can be known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nmkit.io.pet import write_suv_nifti

from .conftest import flood, one_sentence_error, run_cli

UNDER_A_FILE = "under a file"


@pytest.fixture
def blocker(tmp_path) -> Path:
    path = tmp_path / "a-file.txt"
    path.write_text("not a folder")
    return path


@pytest.mark.parametrize("command", [
    ["qc", "synth", "--n", "1", "--out"], ["gbp", "synth", "--n", "1", "--out"], ["pet", "synth", "--n", "1", "--out"],
    ["bonescan", "synth", "--n", "1", "--out"], ["rds", "synth", "--n", "1", "--out"],
    ["qc", "check", "STUDY", "--out"], ["gbp", "ef", "STUDY", "--out"], ["bonescan", "crop", "STUDY", "--out"],
    ["bonescan", "predict", "STUDY", "--out"], ["rds", "predict", "STUDY", "--out"], ["pet", "predict", "STUDY", "-o"]])
def test_an_output_under_a_file_is_refused_up_front(tmp_path, blocker, command):
    study = flood(tmp_path / "flood.dcm")
    args = [study if a == "STUDY" else a for a in command]
    line = one_sentence_error(run_cli(*args, blocker / "out" / ("x.nii.gz" if command[1] == "predict" and
                                                                 command[0] == "pet" else "")))
    assert str(blocker) in line and ("is a file" in line or "not a folder" in line)


def test_pet_predict_refuses_an_existing_folder_as_its_output(tmp_path):
    early = write_suv_nifti(tmp_path / "early.nii.gz", np.ones((4, 40, 40), np.float32), (5.0, 5.0, 5.0))
    (tmp_path / "folder").mkdir()
    assert "is a folder" in one_sentence_error(run_cli("pet", "predict", early, "-o", tmp_path / "folder"))


def test_an_oserror_while_writing_is_one_sentence(tmp_path):
    """/proc passes the up-front check as root (mkdir is only refused there), so this is the central catch."""
    proc = Path("/proc") / "nmkit-cannot-write-here"
    line = one_sentence_error(run_cli("qc", "check", flood(tmp_path / "flood.dcm"), "--out", proc))
    assert str(proc) in line and "Traceback" not in line
