"""`nmkit pet synth | predict | evaluate` and the evaluation's numbers on known inputs."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pydicom
import pytest
from typer.testing import CliRunner

from nmkit.cli import app
from nmkit.io import read_nifti
from nmkit.io.pet import write_suv_nifti
from nmkit.workflows.pet.data import PatientPair
from nmkit.workflows.pet.evaluate import PSNR_RANGE_SUV, lesion_errors, patient_metrics

runner = CliRunner()


def test_synth_writes_same_bytes(tmp_path):
    args = ["pet", "synth", "--n", "1", "--size", "40", "--pixel-mm", "10.6912", "--slices", "8", "--slice-mm", "10"]
    for name in ("a", "b"):
        result = runner.invoke(app, [*args, "--out", str(tmp_path / name), "--seed", "4"])
        assert result.exit_code == 0, result.output
    for path in (tmp_path / "a").rglob("*.gz"):
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()


def test_synth_bad_spec_exits_2(tmp_path):
    result = runner.invoke(app, ["pet", "synth", "--out", str(tmp_path / "x"), "--size", "40", "--pixel-mm", "2"])
    assert result.exit_code == 2 and not (tmp_path / "x").exists()


def test_predict_keeps_geometry(fdg_set, generator_bundle, tmp_path):
    early = fdg_set / "patient_00000" / "early.nii.gz"
    out = tmp_path / "pred.nii.gz"
    result = runner.invoke(app, ["pet", "predict", str(early), "-o", str(out), "--model", str(generator_bundle),
                                 "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["shape"] == [12, 40, 40]
    assert np.array_equal(nib.load(out).affine, nib.load(early).affine)
    predicted = read_nifti(out).array
    assert predicted.shape == (12, 40, 40) and predicted.min() >= 0


def test_predict_from_dicom_keeps_the_patient_position(shared_data, generator_bundle, tmp_path):
    source = shared_data / "pet" / "PT_slice_1.dcm"
    out = tmp_path / "pred.nii.gz"
    result = runner.invoke(app, ["pet", "predict", str(source), "-o", str(out), "--model", str(generator_bundle)])
    assert result.exit_code == 0, result.output
    ds = pydicom.dcmread(source)
    corner = nib.load(out).affine @ [0, 0, 0, 1]
    assert corner[:3] == pytest.approx([-float(ds.ImagePositionPatient[0]), -float(ds.ImagePositionPatient[1]),
                                        float(ds.ImagePositionPatient[2])])


def test_predict_uses_the_shipped_generator_by_default(fdg_set, tmp_path):
    out = tmp_path / "pred.nii.gz"
    result = runner.invoke(app, ["pet", "predict", str(fdg_set / "patient_00000" / "early.nii.gz"), "-o", str(out),
                                 "--json"])
    assert result.exit_code == 0, result.output
    assert read_nifti(out).array.shape == (12, 40, 40) and json.loads(result.stdout)["predicted_suv_max"] > 0


def test_predict_without_model_or_with_empty_volume_exits_2(fdg_set, generator_bundle, tmp_path, monkeypatch):
    from nmkit.workflows.pet import analyse

    monkeypatch.setattr(analyse, "default_model_path", lambda: tmp_path / "absent.pt")
    out = tmp_path / "pred.nii.gz"
    result = runner.invoke(app, ["pet", "predict", str(fdg_set / "patient_00000" / "early.nii.gz"), "-o", str(out)])
    assert result.exit_code == 2 and "no default PET model is shipped" in result.output
    empty = write_suv_nifti(tmp_path / "empty.nii.gz", np.zeros((4, 32, 32)), (5.0, 4.0, 4.0))
    result = runner.invoke(app, ["pet", "predict", str(empty), "-o", str(out), "--model", str(generator_bundle)])
    assert result.exit_code == 2 and "empty" in result.output
    ct = write_suv_nifti(tmp_path / "ct.nii.gz", np.ones((4, 32, 32)), (5.0, 4.0, 4.0), description="CT")
    result = runner.invoke(app, ["pet", "predict", str(ct), "-o", str(out), "--model", str(generator_bundle)])
    assert result.exit_code == 2 and "not PET" in result.output
    assert not out.exists() and not list(tmp_path.glob(".*part"))


def test_evaluate_json_keys_and_baselines(fdg_set, generator_bundle, tmp_path):
    result = runner.invoke(app, ["pet", "evaluate", "--data", str(fdg_set), "--model", str(generator_bundle),
                                 "--out", str(tmp_path / "eval"), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {"psnr", "psnr_body", "ssim", "nrmse", "fid", "fid_extractor", "lesion_suvmax_error_median",
            "lesion_suvmax_bias_median", "identity_psnr_body"} <= set(out)
    assert out["fid_extractor"].startswith("random-conv-128") and out["n_test_patients"] == 1
    assert [m["method"] for m in out["methods"]] == ["pix2pix", "identity", "linear"]
    assert (tmp_path / "eval" / "pet_comparison.png").is_file()


def test_evaluate_refuses_mismatched_pair(fdg_set, generator_bundle, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(fdg_set, broken)
    write_suv_nifti(broken / "patient_00001" / "delayed.nii.gz", np.ones((10, 40, 40)), (10.0, 10.6912, 10.6912))
    result = runner.invoke(app, ["pet", "evaluate", "--data", str(broken), "--model", str(generator_bundle)])
    assert result.exit_code == 2 and "differ in shape" in result.output and "patient_00001" in result.output
    assert not (broken / "evaluation").exists()


def test_patient_metrics_and_lesion_errors_known_values():
    labels = np.zeros((2, 8, 8), np.int16)
    labels[:, 1:5, 1:5] = 1
    labels[0, 1, 1] = 100
    early = np.where(labels > 0, 1.0, 0.0).astype(np.float32)
    early[0, 1, 1] = 4.0
    delayed = early.copy()
    delayed[0, 1, 1] = 8.0
    patient = PatientPair("p", early, delayed, labels, [{"label": 100}], (5.0, 4.0, 4.0), None)
    predicted = delayed.copy()
    predicted[0, 1, 1] = 6.0  # SUVmax 6 vs 8: 25 % error; RI 0.5 vs 1.0
    [row] = lesion_errors(patient, predicted)
    assert row == {"suvmax_error": pytest.approx(0.25), "suvmax_bias": pytest.approx(-0.25),
                   "retention_index_error": pytest.approx(0.5)}
    metrics = patient_metrics(patient, predicted)
    assert metrics["psnr_body"] == pytest.approx(10 * np.log10(PSNR_RANGE_SUV**2 / (4.0 / 32)))
    assert metrics["psnr"] == pytest.approx(10 * np.log10(PSNR_RANGE_SUV**2 / (4.0 / 128)))
    assert metrics["nrmse"] == pytest.approx(2.0 / np.sqrt(64 + 31))


def test_predict_of_several_volumes_writes_each_and_reports_the_bad_one(fdg_set, generator_bundle, tmp_path):
    inputs = tmp_path / "in"
    for patient in ("p0", "p1"):                             # two volumes of one name
        (inputs / patient).mkdir(parents=True)
        (inputs / patient / "early.nii.gz").write_bytes((fdg_set / "patient_00000" / "early.nii.gz").read_bytes())
    write_suv_nifti(inputs / "empty.nii.gz", np.zeros((4, 32, 32)), (5.0, 4.0, 4.0))
    out = tmp_path / "pred"
    result = runner.invoke(app, ["pet", "predict", str(inputs), "-o", str(out), "--model", str(generator_bundle)])
    assert result.exit_code == 1, result.output
    records = {r["input"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert sorted(records) == ["empty.nii.gz", "p0/early.nii.gz", "p1/early.nii.gz"]
    assert "empty" in records["empty.nii.gz"]["error"] and not (out / "empty.delayed.nii.gz").exists()
    for patient in ("p0", "p1"):
        assert read_nifti(out / patient / "early.delayed.nii.gz").array.shape == (12, 40, 40)
    refused = runner.invoke(app, ["pet", "predict", str(inputs), "-o", str(tmp_path / "one.nii.gz")])
    assert refused.exit_code == 2 and "several inputs need a folder" in refused.stderr
