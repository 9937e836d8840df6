"""NEMA NU 1 flood uniformity: hand-computed values, masks, binning, bad input and the real IAEA floods."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nmkit.errors import InputError
from nmkit.metrics.uniformity import (
    apply_nema_edge_rule,
    central_field_mask,
    choose_bin_factor,
    detect_field_mask,
    differential_uniformity,
    integral_uniformity,
    nema_uniformity,
    smooth_nine_point,
    sum_bin,
)


def square_flood(size: int = 80, start: int = 8, stop: int = 72, counts: float = 100.0) -> np.ndarray:
    image = np.zeros((size, size))
    image[start:stop, start:stop] = counts
    return image


def disc_flood(size: int = 128, radius: float = 50.0) -> np.ndarray:
    rows, cols = np.indices((size, size)) + 0.5
    centre = size / 2
    return np.where((rows - centre) ** 2 + (cols - centre) ** 2 <= radius**2, 100.0, 0.0)


def octagon_flood(size: int = 128, half_width: float = 50.0, corner_cut: float = 70.0) -> np.ndarray:
    rows, cols = np.abs(np.indices((size, size)) + 0.5 - size / 2)
    inside = (rows <= half_width) & (cols <= half_width) & (rows + cols <= corner_cut)
    return np.where(inside, 100.0, 0.0)


# --- exact values ---------------------------------------------------------------------------


def test_flat_flood_has_zero_uniformity():
    result = nema_uniformity(square_flood(), 1.6)  # k = 4: 20 x 20 binned, field 16 x 16 of 1600 counts
    assert result.bin_factor == 4 and result.binned_pixel_mm == pytest.approx(6.4)
    assert (result.ufov_iu, result.ufov_du, result.cfov_iu, result.cfov_du) == (0.0, 0.0, 0.0, 0.0)
    assert result.ufov_mask.sum() == 14 * 14  # outer ring dropped by the edge rule
    assert np.all(result.binned[result.ufov_mask] == 1600.0)


def test_hot_pixel_gives_hand_computed_iu_and_du():
    image = square_flood(size=24, start=2, stop=22)
    image[12, 12] = 116.0
    result = nema_uniformity(image, bin_factor=1)
    # smoothed: centre (4*116 + 12*100)/16 = 104, 4-neighbours 102, diagonals 101, elsewhere 100
    assert result.binned[12, 12] == pytest.approx(104.0)
    assert result.binned[12, 13] == pytest.approx(102.0) and result.binned[13, 13] == pytest.approx(101.0)
    expected = 100 * (104 - 100) / (104 + 100)
    for value in (result.ufov_iu, result.ufov_du, result.cfov_iu, result.cfov_du):
        assert value == pytest.approx(expected, rel=1e-12)
    assert result.ufov_max_location == (12, 12)
    assert result.binned_pixel_mm is None


def test_integral_uniformity_ignores_pixels_outside_the_mask():
    values = np.full((6, 6), 100.0)
    values[1, 2], values[4, 3] = 120.0, 80.0
    values[0, 0] = 1000.0  # outside the mask
    mask = np.ones((6, 6), bool)
    mask[0, 0] = False
    iu, max_location, min_location = integral_uniformity(values, mask)
    assert iu == pytest.approx(100 * 40 / 200)
    assert max_location == (1, 2) and min_location == (4, 3)


def test_differential_uniformity_uses_five_pixel_runs_in_rows_and_columns():
    values = np.full((9, 9), 100.0)
    values[4, 1], values[4, 5] = 110.0, 90.0  # same row, inside one 5-pixel run
    mask = np.ones_like(values, bool)
    row_du = differential_uniformity(values, mask)
    assert row_du == pytest.approx(100 * 20 / 200)
    assert differential_uniformity(values.T.copy(), mask) == pytest.approx(row_du)  # same pair in a column

    apart = np.full((9, 9), 100.0)
    apart[4, 0], apart[4, 5] = 110.0, 90.0  # 6 pixels apart: never in the same run
    assert differential_uniformity(apart, mask) == pytest.approx(100 * 10 / 190)


def test_differential_uniformity_counts_only_runs_wholly_inside_the_mask():
    values = np.full((7, 7), 100.0)
    values[3, 1], values[3, 5] = 110.0, 90.0
    mask = np.ones_like(values, bool)
    assert differential_uniformity(values, mask) == pytest.approx(100 * 20 / 200)  # whole mask: the row run
    mask[3, 3] = False  # breaks every row run that holds both extremes
    assert differential_uniformity(values, mask) == pytest.approx(100 * 10 / 190)  # 90 against 100 in column 5


def test_smoothing_normalises_by_in_mask_weights():
    binned = np.full((5, 5), 100.0)
    binned[0, :] = 0.0  # outside the field: must not pull the edge down
    mask = binned > 0
    smoothed = smooth_nine_point(binned, mask)
    assert np.all(smoothed[mask] == 100.0) and np.all(smoothed[~mask] == 0.0)


# --- binning ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spacing", "factor"),
    [(2.065, 4), ((2.065, 2.065), 4), (1.6, 4), (3.2, 2), (6.4, 1), (2.2, 3), (0.8, 8)],
)
def test_bin_factor_choice(spacing, factor):
    assert choose_bin_factor(spacing) == factor


def test_bin_factor_follows_target_pixel_size():
    assert choose_bin_factor(1.6, target_pixel_mm=3.2) == 2


@pytest.mark.parametrize("spacing", [10.0, 4.3])
def test_no_legal_bin_factor_raises(spacing):
    with pytest.raises(InputError, match=r"flood\.dcm: no integer binning"):
        choose_bin_factor(spacing, source="flood.dcm")


def test_sum_bin_sums_blocks_and_drops_partial_edges():
    image = np.arange(7 * 9, dtype=float).reshape(7, 9)
    binned = sum_bin(image, 3)
    assert binned.shape == (2, 3)
    assert binned[1, 2] == image[3:6, 6:9].sum()


# --- field of view ---------------------------------------------------------------------------


@pytest.mark.parametrize("make_flood", [disc_flood, octagon_flood])
def test_field_found_and_cfov_is_75_percent_linear(make_flood):
    image = make_flood()
    binned = sum_bin(image, 4)
    field = detect_field_mask(binned)
    expected_area = (image > 0).sum() / 16
    assert abs(field.sum() - expected_area) <= 0.05 * expected_area
    ufov = apply_nema_edge_rule(binned, field)
    cfov = central_field_mask(ufov)
    assert cfov.sum() / ufov.sum() == pytest.approx(0.75**2, abs=0.04)
    assert np.array(np.nonzero(cfov)).mean(axis=1) == pytest.approx(np.array(np.nonzero(ufov)).mean(axis=1), abs=0.5)
    result = nema_uniformity(image, 1.6)
    assert np.array_equal(result.ufov_mask, ufov) and np.array_equal(result.cfov_mask, cfov)
    assert result.cfov_iu <= result.ufov_iu


def test_cfov_of_rectangle_is_centred_rectangle_of_75_percent_sides():
    ufov = np.zeros((40, 60), bool)
    ufov[8:32, 10:50] = True  # 24 x 40
    cfov = central_field_mask(ufov)
    rows, cols = np.nonzero(cfov)
    assert cfov.sum() == 18 * 30
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (11, 28, 15, 44)


def test_edge_rule_drops_pixels_with_zero_four_neighbours():
    binned = np.zeros((12, 12))
    binned[1:11, 1:11] = 100.0  # field 10 x 10
    binned[0, 5] = 100.0  # one-pixel bump on the edge: (1, 5) then has no zero 4-neighbour
    binned[6, 6] = 0.0  # a dead pixel inside the field
    ufov = apply_nema_edge_rule(binned, binned > 0)
    expected = np.zeros((12, 12), bool)
    expected[2:10, 2:10] = True
    expected[1, 5] = True
    expected[6, 6] = expected[5, 6] = expected[7, 6] = expected[6, 5] = expected[6, 7] = False
    assert np.array_equal(ufov, expected)


def test_edge_rule_drops_low_edge_pixels_and_their_inner_neighbours():
    binned = np.zeros((12, 12))
    binned[1:11, 1:11] = 100.0
    binned[5, 1] = 60.0  # an edge pixel below 75 % of the CFOV mean
    ufov = apply_nema_edge_rule(binned, binned > 0)
    assert not ufov[5, 2]  # its inner neighbour now has a zero 4-neighbour
    assert ufov[4, 2] and ufov[6, 2] and ufov.sum() == 64 - 1


def test_field_touching_the_image_border_loses_the_border_ring():
    binned = np.full((16, 16), 100.0)
    binned[:3, :] = 0.0
    ufov = apply_nema_edge_rule(binned, detect_field_mask(binned))
    assert not ufov[:, 0].any() and not ufov[:, -1].any() and not ufov[-1].any() and not ufov[3].any()
    assert ufov[4:15, 1:15].all()


def test_explicit_mask_at_image_or_binned_size():
    image = square_flood()
    image_mask = np.zeros(image.shape, bool)
    image_mask[16:64, 16:64] = True  # binned rows/cols 4..15
    from_image = nema_uniformity(image, 1.6, fov_mask=image_mask)
    from_binned = nema_uniformity(image, 1.6, fov_mask=sum_bin(image_mask, 4) > 0)
    assert np.array_equal(from_image.ufov_mask, from_binned.ufov_mask)
    assert from_image.ufov_mask.sum() == 10 * 10


def test_single_frame_stack_and_as_dict_are_accepted():
    result = nema_uniformity(square_flood()[None], (1.6, 1.6))
    summary = result.as_dict()
    json.dumps(summary)
    assert summary["ufov_iu"] == 0.0 and summary["bin_factor"] == 4 and summary["binned_rows"] == 20


# --- bad input -------------------------------------------------------------------------------


def _with(change):
    image = square_flood()
    change(image)
    return image


@pytest.mark.parametrize(
    ("image", "kwargs", "problem"),
    [
        (np.stack([square_flood()] * 3), {}, "shape"),
        (_with(lambda a: a.__setitem__((40, 40), np.nan)), {}, "NaN or infinite"),
        (_with(lambda a: a.__setitem__((40, 40), np.inf)), {}, "NaN or infinite"),
        (_with(lambda a: a.__setitem__((40, 40), -5.0)), {}, "negative counts"),
        (np.zeros((80, 80)), {}, "all zeros"),
        (np.full((80, 80), 7.0), {}, "constant"),
        (square_flood(size=20, start=2, stop=18), {}, "too small"),
        (square_flood(), {"pixel_spacing_mm": None}, "bin_factor"),
        (square_flood(), {"bin_factor": 0}, "bin_factor must be a positive integer"),
        (square_flood(), {"pixel_spacing_mm": -1.0}, "pixel spacing"),
        (square_flood(), {"fov_mask": np.ones((3, 3), bool)}, "fov_mask has shape"),
        (square_flood(), {"fov_mask": np.zeros((80, 80), bool)}, "fov_mask covers no"),
    ],
)
def test_bad_input_raises_input_error_naming_the_source(image, kwargs, problem):
    kwargs = {"pixel_spacing_mm": 1.6, **kwargs}
    with pytest.raises(InputError, match=problem) as caught:
        nema_uniformity(image, source="flood.dcm", **kwargs)
    assert str(caught.value).startswith("flood.dcm: ") and str(caught.value).endswith(".")


def test_cfov_without_five_pixel_runs_raises():
    strip = np.zeros((10, 70))
    strip[2:8, 2:68] = 100.0  # UFOV 4 x 64 binned pixels: CFOV has no 5-pixel column run
    with pytest.raises(InputError, match=r"strip\.dcm: the central field of view has no run of 5"):
        nema_uniformity(strip, bin_factor=1, source="strip.dcm")


# --- real floods (IAEA NMQC test images) -----------------------------------------------------


def test_uniformidad_1_matches_nmqc_and_pylinac(shared_data):
    pydicom = pytest.importorskip("pydicom")
    dataset = pydicom.dcmread(shared_data / "flood" / "UNIFORMIDAD_1.dcm")
    spacing = tuple(float(v) for v in dataset.PixelSpacing)
    result = nema_uniformity(dataset.pixel_array, spacing, source="UNIFORMIDAD_1.dcm")
    assert result.bin_factor == 4 and result.binned.shape == (64, 64)
    reference = {"ufov_iu": 2.38, "ufov_du": 1.84, "cfov_iu": 2.38, "cfov_du": 1.73}
    for name, value in reference.items():
        assert getattr(result, name) == pytest.approx(value, abs=0.3), name


@pytest.mark.parametrize("name", ["UNIFORMIDAD_circular.mhd", "UNIFORMIDAD_rectangle.mhd"])
def test_synthetic_nmqc_floods_are_sane(shared_data, name):
    sitk = pytest.importorskip("SimpleITK")
    image = sitk.ReadImage(str(shared_data / "flood" / name))
    result = nema_uniformity(sitk.GetArrayFromImage(image), image.GetSpacing()[::-1], source=name)
    assert result.bin_factor == 4
    assert 0 < result.cfov_iu <= result.ufov_iu < 15
    assert 0 < result.cfov_du <= result.ufov_du < 10
