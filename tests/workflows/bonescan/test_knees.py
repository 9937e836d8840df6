"""Knee localisation: the anatomical default on phantoms and the real NM1 scan, the plan's heuristic, failures."""

from __future__ import annotations

import numpy as np
import pytest

from nmkit.errors import InputError
from nmkit.phantoms.bone import BoneSpec, generate_bone_scan
from nmkit.workflows.bonescan.knees import CROP, Knee, crop_knee, find_knees


@pytest.mark.parametrize("index", range(6))
def test_anatomy_finds_both_knees_within_10px(index):
    scan = generate_bone_scan(BoneSpec(), 21, index)
    knees = find_knees(scan.views[0])
    assert [k.side for k in knees] == ["right", "left"]
    for knee, (row, col) in zip(knees, scan.knees):
        assert np.hypot(knee.row - row, knee.col - col) <= 10


def test_real_nm1_scan_both_knees():
    data = pytest.importorskip("pydicom.data")
    from nmkit.io import load_image

    path = data.get_testdata_file("JPEG-LL.dcm")
    if path is None:
        pytest.skip("pydicom-data is not installed")
    right, left = find_knees(load_image(path).array[0], source=path)
    # Read off the image: knee joints near rows 600-625, right knee about column 80, left about 165.
    assert 590 <= right.row <= 630 and 70 <= right.col <= 100
    assert 600 <= left.row <= 635 and 150 <= left.col <= 180


def test_plan_heuristic_columns_and_band():
    scan = generate_bone_scan(BoneSpec(), 21, 0)
    right, left = find_knees(scan.views[0], "plan")
    assert (right.col, left.col) == (64, 192) and right.row == left.row
    assert 510 <= right.row < 510 + 70 + 128


def test_plan_heuristic_shifts_when_row_510_has_no_zero():
    view = np.zeros((1024, 256), np.float32)
    view[400:700, 60:200] = 1.0
    view[650, 30] = 9.0  # the brightest row inside the shifted band 580-707
    assert find_knees(view, "plan")[0].row == 650


def test_no_legs_in_view_is_an_input_error():
    scan = generate_bone_scan(BoneSpec(), 21, 0)
    view = scan.views[0].copy()
    view[int(scan.knees[0][0]) - 180:] = 0  # the camera stopped at the pelvis
    with pytest.raises(InputError, match="no legs in view") as err:
        find_knees(view, source="upper.dcm")
    assert str(err.value).startswith("upper.dcm:")


def test_empty_and_small_views():
    with pytest.raises(InputError, match="no legs in view"):
        find_knees(np.zeros((1024, 256), np.float32), source="empty.dcm")
    with pytest.raises(InputError, match="at least 256 x 128"):
        find_knees(np.ones((100, 100), np.float32), source="small.png")


def test_crop_is_128_and_padded_at_the_border():
    view = np.arange(1024 * 256, dtype=np.float32).reshape(1024, 256)
    crop = crop_knee(view, Knee("right", 500, 10))
    assert crop.shape == (CROP, CROP)
    assert crop[64, 64] == view[500, 10] and (crop[:, :54] == 0).all()
