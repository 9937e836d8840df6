"""Every DICOM file nmkit's phantom writers make (NM static, gated, whole body, dynamic, dual-head static, SPECT
projections; DX MONOCHROME1 and 2) passes dciodvfy: no error, no warning beyond TOLERATED (each with its reason)."""

from __future__ import annotations

import numpy as np
import pytest

from nmkit.io.dicom_write import write_nm_dicom
from nmkit.io.dx_write import write_dx_dicom
from nmkit.phantoms import camera

from .conftest import PATIENT, assert_valid

COUNTS = np.random.default_rng(0).poisson(100, (8, 16, 16))
WRITERS = {
    "static": lambda path: write_nm_dicom(path, COUNTS[:1], (6.0, 6.0)),
    "gated": lambda path: write_nm_dicom(path, COUNTS, (6.0, 6.0), patient_id=PATIENT,
                                         gated={"heart_rate_bpm": 70, "intervals_acquired": 500}),
    "whole body": lambda path: write_nm_dicom(path, COUNTS[:2], (2.26, 2.26), extra={
        "ImageType": ["ORIGINAL", "PRIMARY", "WHOLE BODY", "EMISSION"]}),
    "dynamic": lambda path: camera.write_dynamic(path, COUNTS[:4], 1.0, detectors=2),
    "dual-head static": lambda path: camera.write_static(path, COUNTS[:2], 60.0),
    "projections": lambda path: camera.write_projections(path, COUNTS, 4, 360.0, heads=2),
    "DX MONOCHROME1": lambda path: write_dx_dicom(path, COUNTS[0] * 10, 0.4, "MONOCHROME1"),
    "DX MONOCHROME2": lambda path: write_dx_dicom(path, COUNTS[0] * 10, 0.4),
}


@pytest.mark.parametrize("kind", WRITERS)
def test_phantom_file_passes_dciodvfy(tmp_path, kind):
    assert_valid(WRITERS[kind](tmp_path / "file.dcm"))
