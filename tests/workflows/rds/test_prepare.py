"""Data preparation: windowing and MONOCHROME1 inversion, bad radiographs and polygons, the 5-group split."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image as PILImage

from nmkit.errors import InputError
from nmkit.phantoms.chest import ChestSpec, generate_chest_xray, read_chest_csv, to_png8, write_chest_set
from nmkit.workflows.rds.prepare import (GROUP_SPLITS, lung_mask_from_json, prepare_set, read_radiograph,
                                         split_by_lung_area, window_to_uint8)


def test_window_maps_linearly_and_monochrome1_inverts():
    values = np.array([[0.0, 50.0, 100.0, 200.0]])
    assert window_to_uint8(values, (100.0, 100.0)).tolist() == [[0, 0, 128, 255]]
    assert window_to_uint8(values, (100.0, 100.0), "MONOCHROME1").tolist() == [[255, 255, 128, 0]]


def test_real_adult_radiograph_becomes_png_with_dense_white():
    pytest.importorskip("pydicom.data")
    from pydicom.data import get_testdata_file

    grey = read_radiograph(get_testdata_file("RG1_UNCI.dcm"))
    assert grey.dtype == np.uint8 and grey.shape == (1955, 1841)
    spine, lung = grey[900:1000, 880:960].mean(), grey[700:800, 400:500].mean()
    assert spine > lung  # MONOCHROME1 was inverted: bone and mediastinum white, lung dark


def test_colour_and_stacked_images_are_refused(tmp_path):
    colour = tmp_path / "colour.png"
    PILImage.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(colour)
    with pytest.raises(InputError, match="colour.png: is a colour image"):
        read_radiograph(colour)
    stack = tmp_path / "stack.npy"
    np.save(stack, np.random.default_rng(0).random((3, 16, 16)))
    with pytest.raises(InputError, match="holds 3 frames"):
        read_radiograph(stack)


def _labelme(path, points, shape=(32, 32)):
    shapes = [{"label": "lung", "points": points, "shape_type": "polygon"}]
    path.write_text(json.dumps({"shapes": shapes, "imageHeight": shape[0], "imageWidth": shape[1]}))
    return path


def test_polygon_outside_the_image_and_empty_masks_are_refused(tmp_path):
    with pytest.raises(InputError, match="outside.json: shape 1 has a point outside the 32 x 32 image"):
        lung_mask_from_json(_labelme(tmp_path / "outside.json", [[1, 1], [40, 2], [3, 20]]), (32, 32))
    with pytest.raises(InputError, match="empty mask"):
        lung_mask_from_json(_labelme(tmp_path / "flat.json", [[1.2, 1.2], [5.2, 1.2], [9.2, 1.2]]), (32, 32))
    inside = lung_mask_from_json(_labelme(tmp_path / "ok.json", [[2, 2], [20, 2], [2, 20]]), (32, 32))
    assert inside.any()


def test_split_balances_rds_and_lung_area_and_is_seeded():
    rng = np.random.default_rng(0)
    area, rds = rng.uniform(1e4, 1e5, 127), rng.random(127) < 0.54
    groups = split_by_lung_area(area, rds, seed=1)
    assert np.array_equal(groups, split_by_lung_area(area, rds, seed=1))
    for cls in (0, 1):
        counts = np.bincount(groups[rds == cls], minlength=5)
        assert counts.max() - counts.min() <= 1
    means = [area[groups == g].mean() for g in range(5)]
    assert max(means) - min(means) < 0.1 * area.mean()
    assert GROUP_SPLITS == ("train", "train", "train", "val", "test")


def test_prepare_converts_monochrome1_dicom_and_writes_the_split(tmp_path):
    spec = ChestSpec(shape=(64, 64))
    src = write_chest_set(tmp_path / "raw", spec, 6, seed=2, fmt="dicom", photometric="MONOCHROME1")
    out = prepare_set(src, tmp_path / "prepared")
    records = read_chest_csv(out / "dataset.csv")
    assert [r["split"] for r in records].count("test") >= 1 and {r["split"] for r in records} <= set(GROUP_SPLITS)
    x = generate_chest_xray(spec, 2, 0)
    grey = np.asarray(PILImage.open(out / records[0]["filepath"]), dtype=np.int64)
    assert np.abs(grey - to_png8(x.pixels)).max() <= 1  # inverted back through the full-range window: as the PNG set
    assert records[0]["roi_area"] == int(x.lung_mask.sum())
    assert json.loads((out / records[0]["json"]).read_text())["imagePath"] == "../png/cxr_00000.png"


def test_prepare_writes_nothing_when_a_polygon_is_bad(tmp_path):
    src = write_chest_set(tmp_path / "raw", ChestSpec(shape=(64, 64)), 2, seed=2)
    _labelme(src / "json" / "cxr_00001.json", [[1, 1], [90, 2], [3, 20]], (64, 64))
    with pytest.raises(InputError, match="cxr_00001.json"):
        prepare_set(src, tmp_path / "prepared")
    assert not (tmp_path / "prepared").exists()


def test_prepare_refuses_to_replace_a_folder_that_is_not_a_prepared_set(tmp_path):
    src = write_chest_set(tmp_path / "raw", ChestSpec(shape=(64, 64)), 2, seed=2)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(InputError, match="holds no prepared set"):
        prepare_set(src, tmp_path / "mine")
    with pytest.raises(InputError, match="holds no prepared set"):
        prepare_set(src, src)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep" and (src / "dataset.csv").is_file()
