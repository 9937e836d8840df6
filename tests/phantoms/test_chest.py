"""Neonatal chest X-ray phantom: determinism, ground truth (lung mask, LabelMe, RDS), devices, writers, bad input."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pydicom
import pytest

from nmkit.errors import InputError
from nmkit.io import load_image, read_labelme
from nmkit.phantoms.chest import (CSV_COLUMNS, ChestSpec, generate_chest_xray, generate_chest_xrays, lung_polygons,
                                  read_chest_csv, to_png8, write_chest_set)

SMALL = ChestSpec(shape=(64, 64))
SIMPLE_DIGEST = "57425c0a2ebe"
"""sha256 (first 12 hex) of image 0, seed 7, 96 px, simple style, as made before the realistic style existed."""
REALISTIC_DIGEST = "00710df8eeb7"
"""sha256 (first 12 hex) of image 0, seed 7, 64 px, realistic style, as made before the varied style existed."""
VARIED_DIGEST = "e9894adbdbe5"
"""sha256 (first 12 hex) of image 0, seed 7, 64 px, varied style, as made before the dense style existed."""
DENSE_DIGEST = "f049abe1a816"
"""sha256 (first 12 hex) of image 0, seed 7, 64 px, dense style, as configs/rds-seg-dense.yaml was trained on."""


def _digest(folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_pixels_and_a_smaller_set_is_a_prefix():
    a, b = generate_chest_xrays(SMALL, 4, seed=3), generate_chest_xrays(SMALL, 2, seed=3)
    for x, y in zip(a, b):
        assert np.array_equal(x.pixels, y.pixels) and np.array_equal(x.lung_mask, y.lung_mask)
        assert (x.rds, x.grade, x.devices) == (y.rds, y.grade, y.devices)
    assert not np.array_equal(a[0].pixels, generate_chest_xray(SMALL, 4, 0).pixels)


def test_image_is_12_bit_with_two_lungs_and_grade_matches_label():
    xrays = generate_chest_xrays(dataclasses.replace(SMALL, rotated_rate=0.0), 30, seed=1)
    for x in xrays:
        assert x.pixels.dtype == np.uint16 and x.pixels.shape == (64, 64) and x.pixels.max() <= 4095
        assert len(lung_polygons(x.lung_mask)) == 2
        assert (x.grade > 0) == bool(x.rds) and 0 <= x.grade <= 4
    # RDS lungs are smaller (hypoinflation) and darker air is lost (opacity): lungs are brighter.
    rds = [x for x in xrays if x.rds]
    normal = [x for x in xrays if not x.rds]
    assert rds and normal
    assert np.mean([x.lung_mask.sum() for x in rds]) < np.mean([x.lung_mask.sum() for x in normal])
    lung_level = [float(x.pixels[x.lung_mask].mean() / x.pixels.max()) for x in xrays if x.grade in (0, 4)]
    grades = [x.grade for x in xrays if x.grade in (0, 4)]
    level = {g: np.mean([v for v, h in zip(lung_level, grades) if h == g]) for g in (0, 4)}
    assert level[4] > level[0]


def test_confounded_ties_devices_to_rds_and_untied_does_not():
    tied = generate_chest_xrays(dataclasses.replace(SMALL, confounded=True), 60, seed=2)
    untied = generate_chest_xrays(SMALL, 60, seed=2)

    def agreement(xrays):
        return np.mean([bool(x.devices) == bool(x.rds) for x in xrays])

    assert agreement(tied) > 0.8 and 0.3 < agreement(untied) < 0.7


def test_rotated_images_rotate_the_mask_too():
    x = generate_chest_xray(dataclasses.replace(ChestSpec(shape=(64, 48)), rotated_rate=1.0), 0, 0)
    assert x.rotated in (90, -90) and x.pixels.shape == (48, 64) == x.lung_mask.shape


@pytest.mark.parametrize("bad", [{"shape": (16, 64)}, {"rds_fraction": 1.5}, {"confounded_rates": (0.1,)},
                                 {"noise_range": (0.2, 0.1)}, {"field_mm": 10}])
def test_spec_validation(bad):
    with pytest.raises(ValueError):
        ChestSpec(**bad)


def test_png_set_has_csv_masks_and_labelme_that_give_the_mask_back(tmp_path):
    out = write_chest_set(tmp_path / "set", SMALL, 3, seed=5)
    assert (out / "dataset.csv").read_text().splitlines()[0] == ",".join(CSV_COLUMNS)
    records = read_chest_csv(out / "dataset.csv")
    x = generate_chest_xray(SMALL, 5, 1)
    rec = records[1]
    assert (rec["rds"], rec["grade"], rec["roi_area"], rec["height"], rec["width"]) == \
        (x.rds, x.grade, int(x.lung_mask.sum()), 64, 64)
    assert np.array_equal(load_image(out / rec["filepath"]).array[0], to_png8(x.pixels))
    assert np.array_equal(load_image(out / rec["mask"]).array[0] > 0, x.lung_mask)
    assert np.array_equal(read_labelme(out / rec["json"], (64, 64), "lung"), x.lung_mask)
    again = write_chest_set(tmp_path / "again", SMALL, 3, seed=5)
    assert _digest(out) == _digest(again)


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_dicom_set_is_dx_and_monochrome1_stores_inverted_values(tmp_path, photometric):
    out = write_chest_set(tmp_path / "set", SMALL, 1, seed=5, fmt="dicom", photometric=photometric)
    ds = pydicom.dcmread(out / "images" / "cxr_00000.dcm")
    x = generate_chest_xray(SMALL, 5, 0)
    assert ds.Modality == "DX" and ds.PhotometricInterpretation == photometric and ds.BitsStored == 12
    expected = 4095 - x.pixels if photometric == "MONOCHROME1" else x.pixels
    assert np.array_equal(ds.pixel_array, expected)


def test_refuses_a_folder_that_is_not_a_chest_set(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        write_chest_set(tmp_path, SMALL, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_csv_reader_names_the_missing_columns(tmp_path):
    (tmp_path / "dataset.csv").write_text("filepath,rds\nx.png,1\n")
    with pytest.raises(InputError, match="exist_json, roi_area, height, width"):
        read_chest_csv(tmp_path / "dataset.csv")


def test_realistic_style_is_seeded_varied_and_keeps_the_simple_style_bytes():
    spec = ChestSpec(shape=(64, 64), style="realistic", rotated_rate=0.0)
    a, b = generate_chest_xrays(spec, 6, seed=2), generate_chest_xrays(spec, 6, seed=2)
    for x, y in zip(a, b):
        assert np.array_equal(x.pixels, y.pixels) and np.array_equal(x.lung_mask, y.lung_mask)
        assert x.pixels.dtype == np.uint16 and x.pixels.max() <= 4095
        assert 0.05 < x.lung_mask.mean() < 0.6 and len(lung_polygons(x.lung_mask)) == 2
    assert len({x.pixels.tobytes() for x in a}) == 6
    simple = generate_chest_xray(ChestSpec(shape=(96, 96)), 7, 0)  # the simple style's bytes as before the option
    assert hashlib.sha256(simple.pixels.tobytes()).hexdigest()[:12] == SIMPLE_DIGEST
    with pytest.raises(ValueError, match="style must be one of simple, realistic, varied, dense"):
        ChestSpec(style="cartoon")


@pytest.mark.parametrize("style, base", [("varied", "realistic"), ("dense", "varied")])
def test_a_derived_style_is_seeded_differs_from_its_base_and_both_keep_their_bytes(style, base):
    """varied: the realistic bodies spread wider; dense: the varied image (same lungs) with denser lungs."""
    spec = ChestSpec(shape=(64, 64), style=style, rotated_rate=0.0)
    a, b = generate_chest_xrays(spec, 4, seed=2), generate_chest_xrays(spec, 4, seed=2)
    based = generate_chest_xrays(dataclasses.replace(spec, style=base), 4, seed=2)
    for x, y, r in zip(a, b, based):
        assert np.array_equal(x.pixels, y.pixels) and np.array_equal(x.lung_mask, y.lung_mask)
        assert x.pixels.dtype == np.uint16 and x.pixels.max() <= 4095 and x.lung_mask.any()
        assert (x.rds, x.grade) == (r.rds, r.grade) and not np.array_equal(x.pixels, r.pixels)
        assert np.array_equal(x.lung_mask, r.lung_mask) == (style == "dense")
    digests = {"realistic": REALISTIC_DIGEST, "varied": VARIED_DIGEST, "dense": DENSE_DIGEST}
    for name in (style, base):
        image = generate_chest_xray(ChestSpec(shape=(64, 64), style=name), 7, 0)
        assert hashlib.sha256(image.pixels.tobytes()).hexdigest()[:12] == digests[name]
