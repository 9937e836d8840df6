"""`nmkit gbp synth | ef | evaluate` end to end on tiny phantom sets, and bad input: exit 2, nothing written."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
import torch
from typer.testing import CliRunner

from nmkit.cli import app
from nmkit.models import create_model, save_bundle

from .conftest import TINY_UNET

runner = CliRunner()


@pytest.fixture(scope="module")
def gated_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("gbp") / "set"
    result = runner.invoke(app, ["gbp", "synth", "--out", str(out), "--n", "3", "--seed", "4", "--frames", "8",
                                 "--observers", "2"])
    assert result.exit_code == 0, result.output
    return out


def test_synth_writes_gated_dicom_masks_observers_and_manifest(gated_set):
    manifest = (gated_set / "manifest.csv").read_text().splitlines()
    assert manifest[0].startswith("path,true_ef,ed_frame,es_frame,mask") and len(manifest) == 4
    ds = pydicom.dcmread(gated_set / "studies" / "study_00000.dcm")
    assert ds.Modality == "NM" and int(ds.NumberOfFrames) == 8 and "GATED" in ds.ImageType
    assert len(list((gated_set / "labelme" / "study_00000").glob("*_obs*.json"))) == 4 * 2


def blind_model(path, name: str, kwargs: dict):
    """A model that sees no foreground anywhere: its head is zero but for a background bias."""
    model = create_model(name, **kwargs).eval()
    with torch.no_grad():
        model.net.segmentation_head[0].weight.zero_()
        model.net.segmentation_head[0].bias.copy_(torch.tensor([10.0, -10.0]))
    return save_bundle(path, name, kwargs, model)


def test_ef_prints_the_documented_json_and_writes_both_figures(gated_set, tmp_path):
    """The shipped model on a phantom study: the documented keys, ED from the ECG and the EF near the truth."""
    study = gated_set / "studies" / "study_00001.dcm"
    result = runner.invoke(app, ["gbp", "ef", str(study), "--json", "--out", str(tmp_path / "ef")])
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)  # a warning may go to stderr
    assert {"ef", "ed_frame", "es_frame", "ed_counts", "es_counts", "background_per_pixel", "overlay_png",
            "curve_png"} <= set(r)
    assert r["ed_source"] == "ecg" and r["ed_frame"] == 0
    true_ef = float((gated_set / "manifest.csv").read_text().splitlines()[2].split(",")[1])
    assert abs(r["ef"] - true_ef) < 8
    assert (tmp_path / "ef" / "study_00001.dcm.rois.png").is_file()


def test_ef_refuses_a_study_where_the_model_finds_no_lv(gated_set, tmp_path):
    model = blind_model(tmp_path / "blind.pt", "gbp-unet-small", TINY_UNET)
    result = runner.invoke(app, ["gbp", "ef", str(gated_set / "studies" / "study_00001.dcm"), "--model", str(model),
                                 "--json", "--out", str(tmp_path / "ef")])
    assert result.exit_code == 2 and "no LV was found" in result.output and not (tmp_path / "ef").exists()


def test_evaluate_reports_the_documented_keys(gated_set, tmp_path, monkeypatch):
    from nmkit.workflows.gbp import evaluate as evaluation

    # Segment with the true masks, so the run is deterministic and the segmentation metrics are exact.
    truth = {}
    for study in evaluation.read_labelled_folder(gated_set):
        truth[study.image.array.tobytes()] = study.masks
    monkeypatch.setattr(evaluation, "segment_frames", lambda model, frames: truth[frames.tobytes()])
    monkeypatch.setattr(evaluation, "load_gbp_model", lambda path: (None, {"model_path": "truth"}))
    result = runner.invoke(app, ["gbp", "evaluate", "--data", str(gated_set), "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    r = json.loads(result.output)
    keys = ("dice_ed", "dice_es", "iou_ed", "iou_es", "pixel_accuracy_ed", "pixel_accuracy_es", "ef_bias", "ef_mae",
            "ef_loa_low", "ef_loa_high", "baseline_ef_mae")
    assert set(keys) <= set(r)
    assert r["dice_ed"] == 1.0 and r["iou_es"] == 1.0 and r["pixel_accuracy_ed"] == 1.0
    assert r["ef_mae"] == pytest.approx(r["reference_ef_mae"])
    assert (tmp_path / "ef_bland_altman.png").is_file() and (tmp_path / "studies.csv").is_file()
    assert [row["ROIs"] for row in r["table1"]] == ["reference", "model"]


@pytest.mark.parametrize("array, problem", [(np.ones((64, 64)), "static"), (np.ones((4, 64, 64)), "at least 8"),
                                            (np.zeros((12, 64, 64)), "zero")])
def test_bad_studies_exit_2_with_one_sentence_and_write_nothing(tmp_path, tiny_model, array, problem):
    study = tmp_path / "bad.npy"
    np.save(study, array.astype(np.float32))
    result = runner.invoke(app, ["gbp", "ef", str(study), "--model", str(tiny_model), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and problem in result.output and "bad.npy" in result.output
    assert not (tmp_path / "o").exists()


def test_missing_manifest_and_bad_format_are_clear(tmp_path):
    result = runner.invoke(app, ["gbp", "evaluate", "--data", str(tmp_path)])
    assert result.exit_code == 2 and "manifest.csv" in result.output
    result = runner.invoke(app, ["gbp", "synth", "--out", str(tmp_path / "x"), "--n", "1", "--format", "png"])
    assert result.exit_code == 2 and "--format" in result.output and not (tmp_path / "x").exists()


def test_ef_refuses_a_bad_system_fwhm(gated_set, tiny_model, tmp_path):
    result = runner.invoke(app, ["gbp", "ef", str(gated_set / "studies" / "study_00000.dcm"), "--model",
                                 str(tiny_model), "--background", "spill", "--fwhm-mm", "0", "--out",
                                 str(tmp_path / "o")])
    assert result.exit_code == 2 and "--fwhm-mm" in result.output and not (tmp_path / "o").exists()


def test_ef_of_a_folder_gives_each_study_and_the_bad_one_its_error(gated_set, tiny_model, tmp_path):
    archive = tmp_path / "archive"
    (archive / "a").mkdir(parents=True)
    (archive / "a" / "study.dcm").write_bytes((gated_set / "studies" / "study_00000.dcm").read_bytes())
    (archive / "frames").mkdir()                             # a study kept as a folder of 2-D frames: one item
    for i, frame in enumerate(pydicom.dcmread(gated_set / "studies" / "study_00002.dcm").pixel_array):
        np.save(archive / "frames" / f"{i:02d}.npy", frame.astype(np.float32))
    np.save(archive / "short.npy", np.ones((4, 64, 64), np.float32))
    out = tmp_path / "ef"
    result = runner.invoke(app, ["gbp", "ef", str(archive), "--model", str(tiny_model), "--out", str(out)])
    assert result.exit_code == 1, result.output
    records = {r["input"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert sorted(records) == ["a/study.dcm", "frames", "short.npy"]
    assert "at least 8" in records["short.npy"]["error"]
    for key in ("a/study.dcm", "frames"):
        assert "ef" in records[key] and (out / f"{key}.rois.png").is_file() and (out / f"{key}.json").is_file()
