"""`--dicom-out` on every analysis command and `pet predict -o`: valid SEG/SR/SC whose numbers are the JSON's;
non-DICOM input refused with one sentence and nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from nmkit.cli import app
from nmkit.dicom.sr import read_measurements
from nmkit.io.pet import read_pet_suv

from .conftest import assert_valid, read

runner = CliRunner()


def run(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def check_objects(result: dict, kinds: set[str]) -> dict:
    assert set(result["dicom_files"]) == kinds
    for path in result["dicom_files"].values():
        assert_valid(path)
    return read_measurements(read(result["dicom_files"]["sr"]))


def test_qc_check(cli_results):
    result = cli_results["flood"]
    sr = check_objects(result, {"seg", "sr", "sc"})
    assert sr["UFOV integral uniformity"] == result["ufov_iu"] and sr["QC verdict"] == result["verdict"]
    assert sr["AI defect probability"] == result["defect_probability"]
    assert sr["model"]["name"] == "qc-compact" and len(sr["model"]["sha256"]) == 64


def test_gbp_ef(cli_results):
    result = cli_results["gated"]
    sr = check_objects(result, {"seg", "sr", "sc"})
    assert sr["Left ventricular Ejection fraction"] == result["ef"]
    assert (sr["End-diastolic frame"], sr["End-systolic frame"]) == (result["ed_frame"], result["es_frame"])
    assert read(result["dicom_files"]["seg"]).NumberOfFrames == 2 * result["n_frames"]  # LV and background


def test_rds_predict(studies, tmp_path):
    result = run("rds", "predict", str(studies["chest"]), "--out", str(tmp_path / "rds"), "--dicom-out",
                 str(tmp_path))
    sr = check_objects(result, {"seg", "sr", "sc"})
    assert sr["RDS probability"] == pytest.approx(result["rds_probability"]) and " + " in sr["model"]["name"]


def test_bonescan_predict_without_out_keeps_no_figure(studies, tmp_path):
    result = run("bonescan", "predict", str(studies["bone"]), "--dicom-out", str(tmp_path / "d"))
    sr = check_objects(result, {"sr", "sc"})
    right = result["knees"][0]
    assert sr["Right knee DJD grade"] == right["grade"] and sr["Right knee DJD"] == right["grade_name"]
    assert result["overlay_png"] is None and sorted(p.suffix for p in (tmp_path / "d").iterdir()) == [".dcm"] * 2


def test_pet_predict_series_and_nifti(studies, tmp_path):
    result = run("pet", "predict", str(studies["pet"]), "-o", str(tmp_path / "delayed"), "--dicom-out",
                 str(tmp_path / "d"))
    sr = check_objects(result, {"sr", "sc"})
    assert sr["Predicted delayed SUVmax"] == pytest.approx(result["predicted_suv_max"])
    assert result["files"] == 12 and read_pet_suv(tmp_path / "delayed").array.max() == \
        pytest.approx(result["predicted_suv_max"], rel=1e-3)
    nifti = run("pet", "predict", str(studies["pet"]), "-o", str(tmp_path / "delayed.nii.gz"))
    assert nifti["predicted_suv_max"] == pytest.approx(result["predicted_suv_max"])


@pytest.mark.parametrize("name", ["pred.dcm", "pred.png"])
def test_pet_predict_refuses_other_names(studies, tmp_path, name):
    result = runner.invoke(app, ["pet", "predict", str(studies["pet"]), "-o", str(tmp_path / name)])
    assert result.exit_code == 2 and "is neither a folder" in result.output and not (tmp_path / name).exists()


def test_non_dicom_input_is_refused_before_anything_is_written(tmp_path):
    np.save(tmp_path / "flood.npy", np.random.default_rng(0).poisson(100, (64, 64)).astype(np.float32))
    result = runner.invoke(app, ["qc", "check", str(tmp_path / "flood.npy"), "--out", str(tmp_path / "qc"),
                                 "--dicom-out", str(tmp_path / "d")])
    assert result.exit_code == 2 and "is not DICOM, so --dicom-out has no patient and study" in result.output
    assert not (tmp_path / "d").exists() and not (tmp_path / "qc").exists()


def test_pet_series_output_needs_a_dicom_early_series(tmp_path):
    from nmkit.io.pet import write_suv_nifti

    early = write_suv_nifti(tmp_path / "early.nii.gz", np.ones((4, 8, 8)), (1.0, 1.0, 1.0))
    result = runner.invoke(app, ["pet", "predict", str(early), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "cannot be written as a PT series" in result.output
    assert not (tmp_path / "out").exists()
