"""`nmkit rds synth | prepare | evaluate | predict` end to end on tiny sets; bad input: exit 2, nothing written."""

from __future__ import annotations

import json

from pathlib import Path

import numpy as np
import pydicom
import pytest
import torch
from PIL import Image as PILImage
from typer.testing import CliRunner

from nmkit.cli import app
from nmkit.models import create_model, save_bundle
from nmkit.phantoms.chest import ChestSpec, write_chest_set

from .conftest import TINY_UNET

runner = CliRunner()
EVALUATE_KEYS = {"miou", "dice", "accuracy", "sensitivity", "specificity", "auc", "shortcut_drop_lungs",
                 "shortcut_drop_whole_image"}


def test_synth_writes_dicom_monochrome1_and_the_study_csv(tmp_path):
    out = tmp_path / "set"
    result = runner.invoke(app, ["rds", "synth", "--out", str(out), "--n", "3", "--seed", "1", "--size", "48",
                                 "--width", "40", "--format", "dicom", "--photometric", "MONOCHROME1", "--confounded"])
    assert result.exit_code == 0, result.output
    header = (out / "dataset.csv").read_text().splitlines()[0]
    assert header.startswith("filepath,rds,exist_json,roi_area,height,width")
    ds = pydicom.dcmread(out / "images" / "cxr_00000.dcm")
    assert ds.Modality == "DX" and ds.PhotometricInterpretation == "MONOCHROME1" and (ds.Rows, ds.Columns) == (48, 40)


def test_synth_bad_option_exits_2_and_writes_nothing(tmp_path):
    result = runner.invoke(app, ["rds", "synth", "--out", str(tmp_path / "set"), "--n", "2", "--format", "jpeg"])
    assert result.exit_code == 2 and "--format: must be png or dicom" in result.output
    assert not (tmp_path / "set").exists()


def test_evaluate_without_a_model_uses_the_shipped_segmenter_and_lung_classifier(png_set):
    result = runner.invoke(app, ["rds", "evaluate", "--data", str(png_set), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data["models"]) == {"segmenter", "lungs"} and data["classifier_masks"] == "predicted"
    assert data["models"]["lungs"].endswith("default_model/rds-cls-default.pt") and 0 <= data["accuracy"] <= 1


def test_without_a_model_or_shipped_defaults_the_error_says_how_to_train(png_set, tmp_path, monkeypatch):
    monkeypatch.setattr("nmkit.workflows.rds.evaluate.default_model_paths", lambda: [tmp_path / "missing.pt"])
    result = runner.invoke(app, ["rds", "evaluate", "--data", str(png_set)])
    assert result.exit_code == 2 and "no default rds models are installed" in result.output
    assert "configs/rds-seg-fast.yaml" in result.output


def test_evaluate_json_has_the_documented_keys(png_set, tiny_models):
    args = ["rds", "evaluate", "--data", str(png_set), "--json"]
    for path in tiny_models.values():
        args += ["--model", str(path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert EVALUATE_KEYS <= set(data) and data["n"] == 10 and data["classifier_masks"] == "predicted"
    assert 0 <= data["miou"] <= 1 and 0 <= data["accuracy"] <= 1 and data["shortcut_drop_whole_image"] is not None


def test_evaluate_a_prepared_set_scores_only_its_test_split(png_set, tiny_models, tmp_path):
    prepared = tmp_path / "prepared"
    assert runner.invoke(app, ["rds", "prepare", "--data", str(png_set), "--out", str(prepared)]).exit_code == 0
    result = runner.invoke(app, ["rds", "evaluate", "--data", str(prepared), "--model", str(tiny_models["lungs"]),
                                 "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    tests = sum(line.split(",")[7] == "test" for line in (prepared / "dataset.csv").read_text().splitlines()[1:])
    assert data["n"] == tests and data["classifier_masks"] == "true" and data["miou"] is None


@pytest.fixture(scope="module")
def full_size_set(tmp_path_factory) -> Path:
    """Two 256 px phantom radiographs (the shipped models' size): one without RDS, one with."""
    return write_chest_set(tmp_path_factory.mktemp("rds256") / "set", ChestSpec(shape=(256, 256)), 2, seed=3)


@pytest.mark.parametrize("index", [0, 1])
def test_predict_json_and_mask(full_size_set, tmp_path, index):
    """The shipped models on a phantom radiograph: the documented JSON, a mask close to the true lungs (Dice > 0.9) and
    P(RDS) on the side of its label."""
    out = tmp_path / "pred"
    result = runner.invoke(app, ["rds", "predict", str(full_size_set / "images" / f"cxr_0000{index}.png"), "--out",
                                 str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # a warning may go to stderr
    assert set(data) >= {"rds_probability", "lung_area_px", "mask_png", "rotation_tta", "in_domain"}
    mask = np.asarray(PILImage.open(data["mask_png"])) > 0
    truth = np.asarray(PILImage.open(full_size_set / "masks" / f"cxr_0000{index}.png")) > 0
    assert int(mask.sum()) == data["lung_area_px"] and 2 * (mask & truth).sum() / (mask.sum() + truth.sum()) > 0.9
    label = int((full_size_set / "dataset.csv").read_text().splitlines()[1 + index].split(",")[1])
    assert (data["rds_probability"] > 0.5) == bool(label)


def test_predict_refuses_an_image_where_the_model_finds_no_lung(full_size_set, tmp_path):
    model = create_model("rds-unet-small", **TINY_UNET).eval()
    with torch.no_grad():  # a segmenter that sees no lung anywhere
        model.net.segmentation_head[0].weight.zero_()
        model.net.segmentation_head[0].bias.copy_(torch.tensor([10.0, -10.0]))
    blind = save_bundle(tmp_path / "blind.pt", "rds-unet-small", TINY_UNET, model, {"config": {"task": "segmentation"}})
    out = tmp_path / "pred"
    result = runner.invoke(app, ["rds", "predict", str(full_size_set / "images" / "cxr_00000.png"), "--model",
                                 str(blind), "--out", str(out), "--json"])
    assert result.exit_code == 2 and "no lung was found" in result.output and not out.exists()


def test_predict_refuses_a_colour_image_and_writes_nothing(tiny_models, tmp_path):
    colour = tmp_path / "colour.png"
    PILImage.fromarray(np.full((32, 32, 3), (200, 10, 10), dtype=np.uint8)).save(colour)
    out = tmp_path / "pred"
    result = runner.invoke(app, ["rds", "predict", str(colour), "--model", str(tiny_models["segmenter"]), "--out",
                                 str(out)])
    assert result.exit_code == 2 and "is a colour image" in result.output and not out.exists()


def test_predict_refuses_a_dicom_without_pixels(tiny_models, tmp_path):
    from nmkit.io.dx_write import write_dx_dicom

    path = write_dx_dicom(tmp_path / "x.dcm", np.arange(64, dtype=np.uint16).reshape(8, 8), 0.4)
    ds = pydicom.dcmread(path)
    del ds.PixelData
    ds.save_as(path)
    result = runner.invoke(app, ["rds", "predict", str(path), "--model", str(tiny_models["segmenter"]), "--out",
                                 str(tmp_path / "pred")])
    assert result.exit_code == 2 and "without pixel data" in result.output and not (tmp_path / "pred").exists()


def test_predict_refuses_a_nuclear_medicine_flood(shared_data, tmp_path):
    from typer.testing import CliRunner

    from nmkit.cli import app

    result = CliRunner().invoke(app, ["rds", "predict", str(shared_data / "flood" / "UNIFORMIDAD_1.dcm"),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "rds predict takes a chest radiograph" in result.output
    assert not (tmp_path / "out").exists()


def test_predict_of_a_folder_gives_each_radiograph_and_the_bad_one_its_error(full_size_set, tmp_path):
    archive = tmp_path / "archive"
    for ward in ("a", "b"):                                  # two radiographs of one name
        (archive / ward).mkdir(parents=True)
        (archive / ward / "cxr.png").write_bytes((full_size_set / "images" / "cxr_00000.png").read_bytes())
    PILImage.fromarray(np.full((32, 32, 3), (200, 10, 10), dtype=np.uint8)).save(archive / "colour.png")
    out = tmp_path / "pred"
    result = runner.invoke(app, ["rds", "predict", str(archive), "--out", str(out)])
    assert result.exit_code == 1, result.output
    records = {r["input"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert "is a colour image" in records["colour.png"]["error"]
    for ward in ("a", "b"):
        assert records[f"{ward}/cxr.png"]["mask_png"] == str(out / ward / "cxr.lungs.png")
        assert (out / ward / "cxr.lungs.png").is_file()
