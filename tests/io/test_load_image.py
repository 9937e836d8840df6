"""`load_image`: the reader is picked from the file content first, the extension second; clear errors."""

from __future__ import annotations

import json
import shutil

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
import tifffile
from pydicom.data import get_testdata_file
from PIL import Image as PILImage

import nmkit.io
from nmkit.errors import InputError
from nmkit.io import Image, detect_format, load_image

PLANE = np.arange(48, dtype=np.uint16).reshape(6, 8) * 3


def mr_small():
    path = get_testdata_file("MR_small.dcm", download=False)  # ships inside pydicom itself
    if path is None:
        pytest.skip("pydicom test file MR_small.dcm is not installed")
    return path


def make(tmp_path, kind, name):
    """Write PLANE as ``kind`` under a (possibly misleading) file name."""
    path = tmp_path / name
    if kind == "dicom":
        shutil.copy(mr_small(), path)
    elif kind == "dicom-no-preamble":
        ds = pydicom.dcmread(mr_small())
        del ds.file_meta
        pydicom.dcmwrite(path, ds, implicit_vr=True, little_endian=True)
    elif kind == "nifti":
        nib.save(nib.Nifti1Image(PLANE.T.copy(), np.eye(4)), str(tmp_path / "tmp.nii"))
        shutil.move(tmp_path / "tmp.nii", path)
    elif kind == "nifti-gz":
        nib.save(nib.Nifti1Image(PLANE.T.copy(), np.eye(4)), str(tmp_path / "tmp.nii.gz"))
        shutil.move(tmp_path / "tmp.nii.gz", path)
    elif kind == "png":
        PILImage.fromarray(PLANE).save(path, format="PNG")
    elif kind == "tiff":
        tifffile.imwrite(path, PLANE)
    elif kind == "npy":
        with open(path, "wb") as handle:
            np.save(handle, PLANE)
    elif kind == "metaimage":
        sitk.WriteImage(sitk.GetImageFromArray(PLANE), str(path))
    return path


CASES = [  # (kind, file name, reader, format in metadata)
    ("dicom", "scan", "dicom", "dicom"),
    ("dicom", "scan.png", "dicom", "dicom"),
    ("dicom-no-preamble", "raw_dataset", "dicom", "dicom"),
    ("nifti", "volume.dat", "nifti", "nifti"),
    ("nifti-gz", "volume.nii.gz", "nifti", "nifti"),
    ("nifti-gz", "volume.bin", "nifti", "nifti"),
    ("png", "picture.bin", "raster", "png"),
    ("tiff", "pages", "raster", "tiff"),
    ("npy", "array.dat", "npy", "npy"),
    ("metaimage", "flood.mhd", "metaimage", "metaimage"),
    ("metaimage", "flood.mha", "metaimage", "metaimage"),
]


@pytest.mark.parametrize("kind, name, reader, fmt", CASES, ids=[f"{c[0]}-as-{c[1]}" for c in CASES])
def test_format_is_detected_from_content(tmp_path, kind, name, reader, fmt):
    path = make(tmp_path, kind, name)
    assert detect_format(path) == reader
    image = load_image(path)
    assert isinstance(image, Image)
    assert image.metadata["format"] == fmt
    assert image.path == path
    assert json.loads(json.dumps(image.metadata)) == image.metadata
    if kind.startswith("dicom"):
        assert image.shape == (1, 64, 64) and image.modality == "MR"
    else:
        assert image.shape == (1, 6, 8)
        np.testing.assert_array_equal(image.array[0], PLANE)


def test_public_api_exports_every_reader():
    for name in ("Image", "load_image", "read_dicom", "read_dicom_dataset", "read_metaimage", "read_nifti",
                 "read_raster", "read_npy"):
        assert callable(getattr(nmkit.io, name)), name


def test_extension_decides_when_content_is_not_recognised(tmp_path):
    path = tmp_path / "damaged.png"
    path.write_bytes(b"\x00\x01\x02\x03" * 20)
    assert detect_format(path) == "raster"
    with pytest.raises(InputError, match="damaged.png: could not be read as a PNG"):
        load_image(path)


def test_real_files(shared_data):
    flood = load_image(shared_data / "flood" / "UNIFORMIDAD_1.dcm")
    assert flood.shape == (1, 256, 256) and flood.modality == "NM"
    assert flood.pixel_spacing == pytest.approx((2.065, 2.065), abs=1e-6)
    assert flood.array.sum() == pytest.approx(16.0e6, rel=1e-3)
    for name in ("UNIFORMIDAD_circular.mhd", "UNIFORMIDAD_rectangle.mhd"):
        image = load_image(shared_data / "flood" / name)
        assert image.shape == (1, 256, 256)
        assert image.pixel_spacing == pytest.approx((2.065, 2.065), abs=1e-6)
    pet = load_image(shared_data / "pet" / "PT_slice_1.dcm")
    assert pet.modality == "PT" and pet.shape == (1, 168, 168)


# --- bad input: one sentence naming the file -------------------------------------------------------

def test_file_not_found(tmp_path):
    with pytest.raises(InputError, match=r"nowhere\.dcm: file not found\.$"):
        load_image(tmp_path / "nowhere.dcm")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.nii"
    path.touch()
    with pytest.raises(InputError, match=r"empty\.nii: the file is empty\.$"):
        load_image(path)


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(InputError, match="is a folder, not an image file"):
        load_image(tmp_path)


def test_text_file_is_an_unknown_format(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("flood acquired on head 1, 15 M counts\n")
    with pytest.raises(InputError, match=r"notes\.txt: is not an image nmkit can read \(unknown format"):
        load_image(path)


def test_text_file_without_extension_is_an_unknown_format(tmp_path):
    path = tmp_path / "README"
    path.write_text("nothing to see here\n" * 10)
    with pytest.raises(InputError, match="README: is not an image nmkit can read"):
        load_image(path)


def test_mhd_whose_raw_is_missing(tmp_path):
    path = make(tmp_path, "metaimage", "flood.mhd")
    (tmp_path / "flood.raw").unlink()
    with pytest.raises(InputError, match=r"flood\.mhd: its data file flood\.raw is missing"):
        load_image(path)


def test_error_message_is_one_sentence(tmp_path):
    path = tmp_path / "bad.npy"
    np.save(path, np.array([[np.nan, 1.0]]))
    with pytest.raises(InputError) as caught:
        load_image(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and message.endswith(".") and "\n" not in message
    assert "Traceback" not in message
