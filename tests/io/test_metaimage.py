"""MetaImage reader: .mhd/.raw and .mha written with SimpleITK, and the two real floods."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from nmkit.errors import InputError
from nmkit.io import read_metaimage

PLANE = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 11)


def write_metaimage(array, path, spacing):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)  # SimpleITK order: (x, y[, z])
    sitk.WriteImage(image, str(path))
    return path


def test_2d_mhd_pixels_and_spacing(tmp_path):
    path = write_metaimage(PLANE, tmp_path / "flood.mhd", (3.0, 2.0))
    assert (tmp_path / "flood.raw").is_file()
    image = read_metaimage(path)
    assert image.shape == (1, 6, 8)
    np.testing.assert_array_equal(image.array[0], PLANE)
    assert image.pixel_spacing == (2.0, 3.0)  # (row = y, col = x)
    assert image.slice_spacing is None
    assert image.metadata["spacing_known"] is True
    assert image.metadata["element_type"] == "MET_USHORT"
    assert json.loads(json.dumps(image.metadata)) == image.metadata


def test_3d_mha_volume_keeps_slice_order(tmp_path):
    volume = np.stack([PLANE, PLANE + 1, PLANE + 2]).astype(np.int16)
    image = read_metaimage(write_metaimage(volume, tmp_path / "vol.mha", (1.5, 2.0, 3.0)))
    assert image.shape == (3, 6, 8)
    np.testing.assert_array_equal(image.array, volume)
    assert image.pixel_spacing == (2.0, 1.5)
    assert image.slice_spacing == 3.0


def test_modality_comes_from_the_header(tmp_path):
    path = write_metaimage(PLANE, tmp_path / "nm.mhd", (1.0, 1.0))
    text = path.read_text().replace("ElementType", "Modality = MET_MOD_NM\nElementType")
    path.write_text(text)
    assert read_metaimage(path).modality == "NM"


def test_real_floods(shared_data):
    for name in ("UNIFORMIDAD_circular", "UNIFORMIDAD_rectangle"):
        image = read_metaimage(shared_data / "flood" / f"{name}.mhd")
        assert image.shape == (1, 256, 256)
        assert image.pixel_spacing == pytest.approx((2.065, 2.065), abs=1e-6)  # from ElementSize
        raw = np.fromfile(shared_data / "flood" / f"{name}.raw", dtype="<u2").reshape(256, 256)
        np.testing.assert_array_equal(image.array[0], raw)


def test_missing_raw_file(tmp_path):
    path = write_metaimage(PLANE, tmp_path / "lonely.mhd", (1.0, 1.0))
    (tmp_path / "lonely.raw").unlink()
    with pytest.raises(InputError, match="lonely.mhd: its data file lonely.raw is missing"):
        read_metaimage(path)


def test_header_without_metaimage_keys(tmp_path):
    path = tmp_path / "notes.mhd"
    path.write_text("this is a shopping list\n")
    with pytest.raises(InputError, match="notes.mhd: is not a MetaImage header"):
        read_metaimage(path)


def test_raw_file_too_short(tmp_path):
    path = write_metaimage(PLANE, tmp_path / "short.mhd", (1.0, 1.0))
    raw = tmp_path / "short.raw"
    raw.write_bytes(raw.read_bytes()[:20])
    with pytest.raises(InputError, match="short.mhd: its data file short.raw holds 20 bytes but the header needs 96"):
        read_metaimage(path)


def test_nan_pixels_are_refused(tmp_path):
    plane = PLANE.astype(np.float32)
    plane[2, 3] = np.nan
    with pytest.raises(InputError, match="nan.mha: 1 pixel value"):
        read_metaimage(write_metaimage(plane, tmp_path / "nan.mha", (1.0, 1.0)))


def test_4d_image_is_refused(tmp_path):
    image = sitk.GetImageFromArray(np.zeros((2, 3, 4, 5), np.uint8), isVector=False)
    path = tmp_path / "4d.mha"
    sitk.WriteImage(image, str(path))
    with pytest.raises(InputError, match="4d.mha: expected a 2-D image or a 3-D stack.*4-D"):
        read_metaimage(path)
