"""LabelMe reader/writer: masks from hand-made JSON in tmp_path, polygon round trips, consensus of observers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nmkit.errors import InputError
from nmkit.io import consensus_mask, mask_to_polygon, read_consensus, read_labelme, write_labelme


def labelme(tmp_path, shapes, name="ann.json", height=6, width=8, **extra):
    doc = {"version": "5.2.1", "flags": {}, "shapes": shapes, "imagePath": "f.png", "imageData": None,
           "imageHeight": height, "imageWidth": width, **extra}
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def shape(points, label="LV", kind="polygon"):
    return {"label": label, "points": points, "group_id": None, "shape_type": kind, "flags": {}}


def test_polygon_is_filled_at_x_column_y_row(tmp_path):
    # a square with corners on pixel centres x 1..4 (columns), y 1..2 (rows)
    mask = read_labelme(labelme(tmp_path, [shape([[1, 1], [4, 1], [4, 2], [1, 2]])]))
    expected = np.zeros((6, 8), bool)
    expected[1:3, 1:5] = True
    np.testing.assert_array_equal(mask, expected)


def test_union_and_label_filter_case_insensitive(tmp_path):
    path = labelme(tmp_path, [shape([[0, 0], [1, 0], [1, 1], [0, 1]], "LV"),
                              shape([[5, 3], [6, 3], [6, 4], [5, 4]], "bkg"),
                              shape([[2, 2]], "lv", kind="point")])
    assert read_labelme(path).sum() == 8
    lv = read_labelme(path, label="lv")
    assert lv.sum() == 4 and lv[:2, :2].all()
    assert read_labelme(path, label="BKG")[3:5, 5:7].all()


def test_rectangle_and_circle(tmp_path):
    path = labelme(tmp_path, [shape([[1, 1], [3, 2]], kind="rectangle"), shape([[20, 20], [22, 20]], kind="circle")],
                   height=40, width=40)
    mask = read_labelme(path)
    assert mask[1:3, 1:4].all() and mask[:5, :5].sum() == 6
    assert mask[10:, 10:].sum() == 9  # skimage disk of radius 2: the 3 x 3 block inside the open circle


def test_size_from_argument_when_file_has_none(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"shapes": [{"label": "LV", "points": [[0, 0], [2, 0], [2, 2]]}]}))
    assert read_labelme(path, image_shape=(4, 5)).shape == (4, 5)
    with pytest.raises(InputError, match="old.json: does not give the image size"):
        read_labelme(path)


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "is not a LabelMe JSON file"),
    ('{"version": "5.2.1"}', r'is not a LabelMe file \(it has no "shapes" list\)'),
    ('[1, 2]', r'is not a LabelMe file \(it has no "shapes" list\)'),
])
def test_not_labelme(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError, match=f"bad.json: {message}"):
        read_labelme(path)


@pytest.mark.parametrize(("shapes", "message"), [
    ([shape([[0, 0], [1, 1]])], "shape 1 is a polygon with 2 point"),
    ([shape([[0, 0], [1, "a"], [2, 2]])], r"shape 1 does not have its points as a list of \[x, y\] number pairs"),
    ([shape([[0, 0], [1, 1], [2, 2]]), shape([[1, 1]], kind="circle")], "shape 2 is a circle with 1 point"),
    ([shape([[0, 0], [1, 1], [2, 2]], kind="mask")], "shape 1 has shape_type 'mask'"),
    ([shape([[3, 3]], kind="point")], "has no polygon, rectangle or circle shape"),
])
def test_bad_shapes(tmp_path, shapes, message):
    with pytest.raises(InputError, match=f"ann.json: {message}"):
        read_labelme(labelme(tmp_path, shapes))


def test_missing_label_and_size_mismatch_and_missing_file(tmp_path):
    path = labelme(tmp_path, [shape([[0, 0], [2, 0], [2, 2]], "LV")])
    with pytest.raises(InputError, match="ann.json: has no polygon, rectangle or circle shape labelled 'BKG'"):
        read_labelme(path, label="BKG")
    with pytest.raises(InputError, match="ann.json: is drawn on a 6 x 8 image, but the image is 64 x 64"):
        read_labelme(path, image_shape=(64, 64))
    with pytest.raises(InputError, match="nope.json: file not found"):
        read_labelme(tmp_path / "nope.json")


def test_write_then_read_round_trip(tmp_path):
    path = write_labelme(tmp_path / "out" / "f01.json", [np.array([[1, 1], [4, 1], [4, 2], [1, 2]])], (6, 8),
                         image_path="f01.png")
    doc = json.loads(path.read_text())
    assert doc == {"version": "5.2.1", "flags": {}, "imagePath": "f01.png", "imageData": None, "imageHeight": 6,
                   "imageWidth": 8, "shapes": [{"label": "LV", "points": [[1.0, 1.0], [4.0, 1.0], [4.0, 2.0],
                                                                            [1.0, 2.0]],
                                                "group_id": None, "shape_type": "polygon", "flags": {}}]}
    assert read_labelme(path, label="lv").sum() == 8
    assert [p.name for p in path.parent.iterdir()] == ["f01.json"]  # no temporary file left
    with pytest.raises(ValueError, match="K >= 3"):
        write_labelme(tmp_path / "line.json", [np.zeros((2, 2))], (6, 8))


def test_mask_to_polygon_round_trips_a_disc_and_keeps_the_largest_region(tmp_path):
    rows, cols = np.mgrid[:64, :64]
    disc = (rows - 30) ** 2 + (cols - 25) ** 2 <= 12 ** 2
    speck = np.zeros_like(disc)
    speck[60, 60] = True
    poly = mask_to_polygon(disc | speck)
    assert poly.shape[1] == 2 and not np.array_equal(poly[0], poly[-1])
    assert poly[:, 0].min() == pytest.approx(25 - 12.5) and poly[:, 1].max() == pytest.approx(30 + 12.5)  # x, y
    back = read_labelme(write_labelme(tmp_path / "disc.json", [poly], disc.shape))
    dice = 2 * (back & disc).sum() / (back.sum() + disc.sum())
    assert dice > 0.95
    np.testing.assert_array_equal(back, disc)  # the contour lies between pixel centres: exact here
    with pytest.raises(ValueError, match="at least one pixel"):
        mask_to_polygon(np.zeros((4, 4), bool))


def test_consensus_majority_with_ties_inside(tmp_path):
    a, b, c = (np.zeros((1, 4), bool) for _ in range(3))
    a[0, :3], b[0, 1:3], c[0, 2] = True, True, True
    np.testing.assert_array_equal(consensus_mask([a, b, c]), [[False, True, True, False]])
    np.testing.assert_array_equal(consensus_mask([a, c]), a)  # two observers: a pixel one marks is a tie -> in
    with pytest.raises(ValueError, match="same shape"):
        consensus_mask([a, np.zeros((2, 2), bool)])
    paths = [write_labelme(tmp_path / f"obs{i}.json", [poly], (6, 8)) for i, poly in enumerate(
        ([[0, 0], [3, 0], [3, 3], [0, 3]], [[1, 1], [3, 1], [3, 3], [1, 3]], [[5, 5], [7, 5], [7, 4]]))]
    expected = np.zeros((6, 8), bool)
    expected[1:4, 1:4] = True
    np.testing.assert_array_equal(read_consensus(paths), expected)
    other = write_labelme(tmp_path / "big.json", [[[0, 0], [3, 0], [3, 3]]], (9, 9))
    with pytest.raises(InputError, match="big.json: is drawn on a 9 x 9 image, but the image is 6 x 8"):
        read_consensus(paths + [other])
