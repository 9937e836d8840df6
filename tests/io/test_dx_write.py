"""DX writer: what is written reads back (MONOCHROME1 inverted in storage), same input same bytes, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from nmkit.io import load_image
from nmkit.io.dx_write import write_dx_dicom

PIXELS = (np.arange(48 * 40).reshape(48, 40) % 4096).astype(np.uint16)


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_round_trip(tmp_path, photometric):
    path = write_dx_dicom(tmp_path / "a.dcm", PIXELS, 0.4, photometric)
    image = load_image(path)
    stored = 4095 - PIXELS if photometric == "MONOCHROME1" else PIXELS
    assert image.modality == "DX" and image.metadata["photometric_interpretation"] == photometric
    assert np.array_equal(image.array[0], stored.astype(np.float32)) and image.pixel_spacing == (0.4, 0.4)


def test_window_is_written(tmp_path):
    import pydicom

    ds = pydicom.dcmread(write_dx_dicom(tmp_path / "a.dcm", PIXELS, 0.4, window=(1000, 500)))
    assert (float(ds.WindowCenter), float(ds.WindowWidth)) == (1000.0, 500.0)


def test_same_input_same_bytes(tmp_path):
    a = write_dx_dicom(tmp_path / "a.dcm", PIXELS, 0.4).read_bytes()
    assert a == write_dx_dicom(tmp_path / "b.dcm", PIXELS, 0.4).read_bytes()


@pytest.mark.parametrize("pixels, photometric", [(PIXELS.astype(float) + 5000, "MONOCHROME2"),
                                                 (PIXELS[None], "MONOCHROME2"), (PIXELS, "RGB")])
def test_bad_input_writes_nothing(tmp_path, pixels, photometric):
    with pytest.raises(ValueError):
        write_dx_dicom(tmp_path / "a.dcm", pixels, 0.4, photometric)
    assert not list(tmp_path.iterdir())
