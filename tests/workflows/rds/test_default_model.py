"""The shipped rds models: small, loaded when no model is named, and right on clear phantoms."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
from PIL import Image as PILImage
from typer.testing import CliRunner

from nmkit.cli import app

from nmkit.phantoms.chest import ChestSpec, generate_chest_xray, to_png8
from nmkit.workflows.rds.evaluate import default_model_paths, load_rds_models, predict_image

SPEC = dataclasses.replace(ChestSpec(), shape=(256, 256), rotated_rate=0.0)


def _first(seed: int, grade: int):
    return next(x for x in (generate_chest_xray(SPEC, seed, i) for i in range(100)) if x.grade == grade)


def test_defaults_ship_small_and_load_without_paths():
    assert sum(path.stat().st_size for path in default_model_paths()) < 10e6
    models = load_rds_models(None)
    assert set(models) == {"segmenter", "lungs"}
    assert models["lungs"][1]["model_path"] == str(default_model_paths()[1])


def test_predict_without_a_model_outlines_the_lungs_and_tells_rds_from_normal(tmp_path):
    models = load_rds_models(None)
    results = {}
    for grade in (0, 4):
        xray = _first(7, grade)
        path = tmp_path / f"grade{grade}.png"
        PILImage.fromarray(to_png8(xray.pixels)).save(path)
        results[grade] = predict_image(path, models, tmp_path / "out")
        assert abs(results[grade]["lung_area_px"] - xray.lung_mask.sum()) < 0.15 * xray.lung_mask.sum()
    assert results[0]["rds_probability"] < 0.5 < results[4]["rds_probability"]


def test_rds_pneumoniamnist_is_shipped_by_name_and_scores_a_test_folder(tmp_path):
    rows = []
    for i in range(4):
        grey = (np.random.default_rng(i).random((28, 28)) * 255).astype(np.uint8)
        PILImage.fromarray(grey).save(tmp_path / f"{i}.png")
        rows.append({"image": f"{i}.png", "pneumonia": i % 2, "split": "test"})
    with (tmp_path / "dataset.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = CliRunner().invoke(app, ["rds", "evaluate", "--data", str(tmp_path), "--model", "rds-pneumoniamnist",
                                      "--json"])
    assert result.exit_code == 0, result.output
    scored = json.loads(result.output)
    assert scored["n"] == 4 and scored["label_column"] == "pneumonia"
    assert {"accuracy", "auc", "sensitivity", "specificity"} <= set(scored)
