"""NIfTI reader: (x, y, z) data becomes (z, y, x); spacing, affine, units, scaling and bad files."""

from __future__ import annotations

import gzip
import json

import nibabel as nib
import numpy as np
import pytest

from nmkit.errors import InputError
from nmkit.io import read_nifti

AFFINE = np.diag([1.5, 2.0, 3.0, 1.0])
VOLUME = np.arange(8 * 6 * 4, dtype=np.int16).reshape(8, 6, 4)  # (x, y, z)


def write_nifti(data, path, affine=AFFINE, units="mm", description=None):
    image = nib.Nifti1Image(data, affine)
    if units:
        image.header.set_xyzt_units(xyz=units)
    if description:
        image.header["descrip"] = description
    nib.save(image, str(path))
    return path


@pytest.mark.parametrize("name", ["vol.nii", "vol.nii.gz"])
def test_volume_axis_order_spacing_and_affine(tmp_path, name):
    image = read_nifti(write_nifti(VOLUME, tmp_path / name))
    assert image.shape == (4, 6, 8)
    np.testing.assert_array_equal(image.array, VOLUME.transpose(2, 1, 0))
    assert image.array[3, 5, 7] == VOLUME[7, 5, 3]
    assert image.pixel_spacing == (2.0, 1.5)  # (dy, dx)
    assert image.slice_spacing == 3.0
    assert image.metadata["affine"] == AFFINE.tolist()
    assert image.metadata["spacing_known"] is True
    assert image.modality == "OT"
    assert json.loads(json.dumps(image.metadata)) == image.metadata


def test_2d_image_becomes_one_frame(tmp_path):
    plane = np.arange(48, dtype=np.float32).reshape(8, 6)  # (x, y)
    image = read_nifti(write_nifti(plane, tmp_path / "plane.nii"))
    assert image.shape == (1, 6, 8)
    np.testing.assert_array_equal(image.array[0], plane.T)
    assert image.slice_spacing is None


def test_scale_slope_and_intercept_are_applied(tmp_path):
    image = nib.Nifti1Image(VOLUME, AFFINE)
    image.header.set_slope_inter(2.0, 1.0)
    path = tmp_path / "scaled.nii"
    nib.save(image, str(path))
    np.testing.assert_array_equal(read_nifti(path).array, VOLUME.transpose(2, 1, 0) * 2.0 + 1.0)


def test_modality_from_description(tmp_path):
    assert read_nifti(write_nifti(VOLUME, tmp_path / "a.nii", description="NM SPECT recon")).modality == "NM"
    assert read_nifti(write_nifti(VOLUME, tmp_path / "b.nii", description="FDG PET, SUV")).modality == "PT"
    assert read_nifti(write_nifti(VOLUME, tmp_path / "c.nii", description="made by us")).modality == "OT"


def test_unknown_units_flag_spacing_unknown_and_metres_become_mm(tmp_path):
    assert read_nifti(write_nifti(VOLUME, tmp_path / "u.nii", units=None)).metadata["spacing_known"] is False
    metres = read_nifti(write_nifti(VOLUME, tmp_path / "m.nii", affine=np.diag([0.002, 0.003, 0.004, 1.0]),
                                    units="meter"))
    assert metres.pixel_spacing == pytest.approx((3.0, 2.0))
    assert metres.slice_spacing == pytest.approx(4.0)


def test_singleton_fourth_dimension_is_dropped(tmp_path):
    image = read_nifti(write_nifti(VOLUME[..., None], tmp_path / "t1.nii"))
    assert image.shape == (4, 6, 8)


def test_4d_series_is_refused(tmp_path):
    path = write_nifti(np.zeros((4, 3, 2, 5), np.float32), tmp_path / "dyn.nii")
    with pytest.raises(InputError, match="dyn.nii: expected a 2-D image or a 3-D stack.*4-D"):
        read_nifti(path)


def test_nan_voxels_are_refused(tmp_path):
    data = VOLUME.astype(np.float32)
    data[0, 0, 0] = np.inf
    with pytest.raises(InputError, match="inf.nii: 1 pixel value"):
        read_nifti(write_nifti(data, tmp_path / "inf.nii"))


def test_truncated_gzip_is_refused(tmp_path):
    path = write_nifti(VOLUME, tmp_path / "cut.nii.gz")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match="cut.nii.gz: could not be read as NIfTI"):
        read_nifti(path)


def test_gzipped_text_is_refused(tmp_path):
    path = tmp_path / "text.nii.gz"
    path.write_bytes(gzip.compress(b"not an image at all\n" * 30))
    with pytest.raises(InputError, match="text.nii.gz: could not be read as NIfTI"):
        read_nifti(path)
