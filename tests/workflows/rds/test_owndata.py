"""rds own data: a hospital-style folder (DX DICOM with PNG masks, PNG images) through `dataset check`, one tiny
training epoch and evaluate; a finding named by data.label_column survives the round trip; bad rows listed."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from typer.testing import CliRunner

from nmkit.cli import app
from nmkit.engine import load_config, train
from nmkit.engine.config import merge
from nmkit.errors import InputError
from nmkit.io.dx_write import write_dx_dicom
from nmkit.io.dicom_write import write_nm_dicom
from nmkit.models import load_bundle, resolve_model_path
from nmkit.phantoms.chest import ChestSpec, generate_chest_xray, to_png8
from nmkit.workflows.rds.data import build_set, is_own_data
from nmkit.workflows.rds.evaluate import evaluate_folder

runner = CliRunner()
CONFIGS = Path(__file__).resolve().parents[3] / "configs"
SPLITS = ["train"] * 6 + ["val"] * 3 + ["test"] * 3
TINY = {"model": {"work_size": 32}, "data": {"size": 32, "batch_size": 4},
        "trainer": {"max_epochs": 1, "progress_bar": False}}


def hospital_folder(root: Path, label: str = "rds", masks: bool = True) -> Path:
    """Twelve 48 px phantoms as a hospital export: even rows DX DICOM (MONOCHROME1), odd rows PNG; PNG masks."""
    (root / "img").mkdir(parents=True)
    rows = []
    for i, split in enumerate(SPLITS):
        xray = generate_chest_xray(ChestSpec(shape=(48, 48), rotated_rate=0.0), 11, i)
        if i % 2 == 0:
            image = f"img/{i}.dcm"
            write_dx_dicom(root / image, xray.pixels, xray.pixel_mm, "MONOCHROME1", patient_id=f"P{i}")
        else:
            image = f"img/{i}.png"
            PILImage.fromarray(to_png8(xray.pixels)).save(root / image)
        row = {"image": image, label: "yes" if xray.rds else "no", "split": split, "patient_id": f"P{i}"}
        if masks:
            row["mask"] = f"img/{i}.mask.png"
            PILImage.fromarray(xray.lung_mask.astype(np.uint8) * 255).save(root / row["mask"])
        rows.append(row)
    with (root / "dataset.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


@pytest.fixture(scope="module")
def hospital(tmp_path_factory) -> Path:
    return hospital_folder(tmp_path_factory.mktemp("rds-own") / "export")


def test_dataset_check_reads_dicom_and_png_rows_with_masks(hospital):
    result = runner.invoke(app, ["rds", "dataset", "check", str(hospital), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] and report["rows"] == 12 and report["image_sizes"] == {"48x48": 12}
    assert set(report["labels_per_split"]) == {"train", "val", "test"}


def test_own_data_set_keeps_the_csv_split_and_masks(hospital):
    assert is_own_data(hospital)
    rds_set = build_set({"root": str(hospital), "size": 32}, seed=0, task="segmentation")
    assert list(rds_set.split) == SPLITS and rds_set.images.shape == (12, 32, 32)
    assert rds_set.masks.reshape(12, -1).any(axis=1).all()


def test_segmenter_and_classifier_train_one_epoch_and_evaluate_on_the_test_rows(hospital, tmp_path):
    seg = merge(load_config(CONFIGS / "rds-seg-fast.yaml", data=hospital), TINY)
    seg["model"] |= {"depth": 3, "decoder_width": 8}
    seg_bundle = train(seg, tmp_path / "seg")
    assert (tmp_path / "seg" / "split.csv").is_file()
    cls = merge(load_config(CONFIGS / "rds-cls-fast.yaml", data=hospital), TINY)
    cls["model"] |= {"width": 4}
    cls_bundle = train(cls, tmp_path / "cls")
    info = load_bundle(cls_bundle)[1]
    assert len(info["dataset"]["training_sha256"]) == 9  # train and val images
    result = evaluate_folder(hospital, [seg_bundle, cls_bundle])
    assert result["n"] == 3 and result["label_column"] == "rds" and result["classifier"] == "lungs"
    assert 0 <= result["dice"] <= 1 and {"accuracy", "auc", "sensitivity", "specificity", "ece"} <= set(result)


def test_the_finetune_config_starts_from_the_shipped_segmenter_and_trains_on_own_masks(hospital, tmp_path):
    config = merge(load_config(CONFIGS / "rds-seg-finetune.yaml", data=hospital), TINY)
    bundle = train(config, tmp_path / "tuned")
    tuned, shipped = load_bundle(bundle)[0].state_dict(), load_bundle(resolve_model_path("rds-seg-default"))[0].state_dict()
    assert tuned.keys() == shipped.keys()
    weights = [k for k in tuned if tuned[k].is_floating_point() and "running_" not in k]  # BN statistics aside
    moved = [k for k in weights if not torch.equal(tuned[k], shipped[k])]
    assert moved and all(torch.allclose(tuned[k], shipped[k], atol=0.01) for k in weights)  # trained, from shipped
    assert evaluate_folder(hospital, [bundle, resolve_model_path("rds-cls-default")])["n"] == 3


@pytest.fixture(scope="module")
def pneumonia_run(tmp_path_factory) -> tuple[Path, Path]:
    """A folder whose finding is `pneumonia` (no masks) and a whole-image classifier trained on it one epoch."""
    root = tmp_path_factory.mktemp("pneumonia")
    folder = hospital_folder(root / "export", label="pneumonia", masks=False)
    config = merge(load_config(CONFIGS / "rds-pneumoniamnist.yaml", data=folder), TINY)
    config["model"] |= {"width": 4}
    return folder, train(config, root / "run")


def test_label_column_is_remembered_by_the_bundle_and_scored_by_evaluate(pneumonia_run):
    folder, bundle = pneumonia_run
    assert load_bundle(bundle)[1]["config"]["data"]["label_column"] == "pneumonia"
    result = runner.invoke(app, ["rds", "evaluate", "--data", str(folder), "--model", str(bundle), "--json"])
    assert result.exit_code == 0, result.output
    scored = json.loads(result.output)
    assert scored["label_column"] == "pneumonia" and scored["n"] == 3 and scored["classifier"] == "whole"


def test_evaluate_refuses_images_the_model_was_trained_on(pneumonia_run, tmp_path):
    folder, bundle = pneumonia_run
    copy = tmp_path / "all-test"
    shutil.copytree(folder, copy)
    table = (copy / "dataset.csv").read_text().replace(",train,", ",test,").replace(",val,", ",test,")
    (copy / "dataset.csv").write_text(table)
    with pytest.raises(InputError, match="lists 9 image"):
        evaluate_folder(copy, [bundle])


def test_check_lists_every_bad_row_at_once(tmp_path):
    folder = hospital_folder(tmp_path / "export")
    write_nm_dicom(folder / "img" / "nm.dcm", np.full((1, 16, 16), 100.0, dtype=np.float32), (2.0, 2.0))
    rows = (folder / "dataset.csv").read_text().splitlines()
    rows[1] = rows[1].replace("img/0.dcm", "img/nm.dcm")
    rows[2] = rows[2].replace(",no,", ",maybe,").replace(",yes,", ",maybe,")
    rows[3] = rows[3].replace("img/2.mask.png", "img/missing.png")
    (folder / "dataset.csv").write_text("\n".join(rows) + "\n")
    result = runner.invoke(app, ["rds", "dataset", "check", str(folder)])
    assert result.exit_code == 2
    assert "line 2" in result.output and "is a NM image" in result.output
    assert "line 3" in result.output and "line 4" in result.output
