"""PNG (pillow) and TIFF (tifffile) reader: grey depths, colour to grey, pages to frames, metric resolution."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from nmkit.errors import InputError
from nmkit.io import read_raster

GREY8 = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
GREY16 = np.arange(48, dtype=np.uint16).reshape(6, 8) * 1361  # up to 63967: needs 16 bits


def test_png_8_bit_grey(tmp_path):
    path = tmp_path / "grey8.png"
    PILImage.fromarray(GREY8).save(path)
    image = read_raster(path)
    assert image.shape == (1, 6, 8)
    np.testing.assert_array_equal(image.array[0], GREY8)
    assert image.pixel_spacing == (1.0, 1.0)
    assert image.metadata["spacing_known"] is False
    assert image.metadata["format"] == "png"
    assert json.loads(json.dumps(image.metadata)) == image.metadata


def test_png_16_bit_grey_keeps_full_range(tmp_path):
    path = tmp_path / "grey16.png"
    PILImage.fromarray(GREY16).save(path)
    image = read_raster(path)
    np.testing.assert_array_equal(image.array[0], GREY16)
    assert image.array.max() == 47 * 1361


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_png_colour_becomes_luma_grey_with_a_note(tmp_path, mode):
    rgb = np.zeros((2, 3, len(mode)), np.uint8)
    rgb[0, 0, :3] = (255, 0, 0)
    rgb[0, 1, :3] = (0, 255, 0)
    rgb[0, 2, :3] = (0, 0, 255)
    rgb[1, :, :3] = 100
    if mode == "RGBA":
        rgb[..., 3] = 255
    path = tmp_path / f"{mode}.png"
    PILImage.fromarray(rgb, mode).save(path)
    image = read_raster(path)
    expected = [[0.299 * 255, 0.587 * 255, 0.114 * 255], [100, 100, 100]]
    np.testing.assert_allclose(image.array[0], expected, atol=1e-3)
    assert "grey" in image.metadata["conversion_note"]


def test_multi_page_tiff_becomes_frames(tmp_path):
    stack = np.stack([GREY16, GREY16 + 1, GREY16 + 2])
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, stack)
    image = read_raster(path)
    assert image.shape == (3, 6, 8)
    np.testing.assert_array_equal(image.array, stack)
    assert image.metadata["spacing_known"] is False


def test_tiff_centimetre_resolution_gives_mm_spacing(tmp_path):
    path = tmp_path / "metric.tiff"
    tifffile.imwrite(path, GREY16, resolution=(10.0, 5.0), resolutionunit="CENTIMETER")  # pixels per cm (x, y)
    image = read_raster(path)
    assert image.pixel_spacing == pytest.approx((2.0, 1.0))  # (row, col) mm
    assert image.metadata["spacing_known"] is True


def test_tiff_imagej_mm_unit_gives_spacing(tmp_path):
    path = tmp_path / "imagej.tif"
    tifffile.imwrite(path, GREY16, imagej=True, resolution=(1 / 0.5, 1 / 0.25), metadata={"unit": "mm"})
    image = read_raster(path)
    assert image.pixel_spacing == pytest.approx((0.25, 0.5))
    assert image.metadata["spacing_known"] is True


def test_tiff_inch_resolution_is_not_trusted(tmp_path):
    path = tmp_path / "screen.tif"
    tifffile.imwrite(path, GREY16, resolution=(72.0, 72.0), resolutionunit="INCH")
    image = read_raster(path)
    assert image.pixel_spacing == (1.0, 1.0)
    assert image.metadata["spacing_known"] is False
    assert "72 x 72 dpi ignored" in image.metadata["spacing_note"]


def test_rgb_tiff_becomes_grey(tmp_path):
    rgb = np.full((6, 8, 3), 40, np.uint8)
    path = tmp_path / "rgb.tif"
    tifffile.imwrite(path, rgb, photometric="rgb")
    image = read_raster(path)
    assert image.shape == (1, 6, 8)
    np.testing.assert_allclose(image.array, 40, atol=1e-4)
    assert "grey" in image.metadata["conversion_note"]


def test_tiff_with_infinite_pixels_is_refused(tmp_path):
    data = GREY16.astype(np.float32)
    data[1, 1] = -np.inf
    path = tmp_path / "inf.tif"
    tifffile.imwrite(path, data)
    with pytest.raises(InputError, match="inf.tif: 1 pixel value"):
        read_raster(path)


def test_corrupt_png_is_refused(tmp_path):
    path = tmp_path / "broken.png"
    PILImage.fromarray(GREY8).save(path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(InputError, match="broken.png: could not be read as a PNG"):
        read_raster(path)


def test_text_named_tiff_is_refused(tmp_path):
    path = tmp_path / "fake.tiff"
    path.write_text("not a tiff\n")
    with pytest.raises(InputError, match="fake.tiff: could not be read as a TIFF"):
        read_raster(path)
