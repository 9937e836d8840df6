"""A hospital-style bonescan folder (NM DICOM of another matrix and pixel size, a folder of two view files, a
.mat, blank grades) through dataset check, one training epoch and evaluate, with zero lines of user code."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from scipy import ndimage
from typer.testing import CliRunner

from nmkit.cli import app
from nmkit.io.dicom_write import write_nm_dicom
from nmkit.phantoms.bone import BoneSpec, generate_bone_scan, write_bone_set

CONFIG = {"workflow": "bonescan", "seed": 0, "model": {"name": "bonescan-compact", "width": 4},
          "data": {"batch_size": 8}, "trainer": {"max_epochs": 1, "progress_bar": False}}
SPLITS = ["train"] * 4 + ["val", "test", "test"]


@pytest.fixture(scope="module")
def hospital(tmp_path_factory):
    root = tmp_path_factory.mktemp("bone-own")
    spec = BoneSpec()
    lines = ["scan,right_grade,left_grade,split,patient_id,right_row,right_col,left_row,left_col"]
    for i, split in enumerate(SPLITS[:-1]):
        scan = generate_bone_scan(spec, 3, i)
        right, left = ("" if g < 0 else str(g) for g in scan.grades)
        if i == 1:
            right = ""  # a knee that was not graded
        if i == 2:  # two files: anterior, posterior, in the study's grid; with the knees marked
            folder = root / "scans" / f"s{i}"
            folder.mkdir(parents=True)
            for name, view in zip(("1-anterior.dcm", "2-posterior.dcm"), scan.views):
                write_nm_dicom(folder / name, view[None], (2.26, 2.26), patient_id=f"P{i}")
            marks = ",".join(f"{v:.0f}" for knee in scan.knees for v in knee)
            lines.append(f"scans/s{i},{right},{left},{split},P{i},{marks}")
            continue
        # another camera: 512 x 128 at 4.52 mm (counts summed 2 x 2)
        views = np.stack([ndimage.zoom(v, 0.5, order=1) * 4 for v in scan.views])
        write_nm_dicom(root / "scans" / f"s{i}.dcm", views, (4.52, 4.52), patient_id=f"P{i}")
        lines.append(f"scans/s{i}.dcm,{right},{left},{split},P{i},,,,")
    mat = write_bone_set(root / "study", spec, 1, seed=9)  # the study's own .mat format
    study = sorted((mat / "scans").glob("*.mat"))[0]
    lines.append(f"{study.relative_to(root)},2,1,test,P9,,,,")
    (root / "dataset.csv").write_text("\n".join(lines) + "\n")
    return root


def test_check_train_evaluate(hospital, tmp_path, own_data_roundtrip):
    report, scored, _ = own_data_roundtrip("bonescan", hospital, CONFIG)
    assert report["rows"] == 7
    assert (scored["n_scans"], scored["n_knees"], scored["rows"]) == (2, 4, "test")
    assert "knee_localisation_within_10px" not in scored
    assert (tmp_path / "eval" / "rows.csv").read_text().count("\n") == 5


def test_grade_out_of_range_and_missing_scan_are_listed(hospital, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(hospital, bad)
    (bad / "dataset.csv").write_text("scan,right_grade,left_grade\nscans/s0.dcm,5,1\nscans/none.dcm,1,1\n"
                                     "scans/s3.dcm,,x\n")
    check = CliRunner().invoke(app, ["bonescan", "dataset", "check", str(bad)])
    assert check.exit_code == 2
    for text in ("line 2, column right_grade: 5 is outside 0..4", "line 3, column scan: scans/none.dcm not found",
                 "line 4, column left_grade: 'x' is not an integer"):
        assert text in check.output
