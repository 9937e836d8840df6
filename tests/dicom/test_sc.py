"""The Secondary Capture: the figure's RGB pixels, in the source's study, referring to the source; valid."""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage

from nmkit.dicom.sc import write_secondary_capture
from nmkit.dicom.source import dicom_sources

from .conftest import assert_valid, read, results_of


def test_figure_pixels_study_and_reference(studies, tmp_path):
    pixels = np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    PILImage.fromarray(pixels).save(tmp_path / "figure.png")
    sources = dicom_sources(studies["flood"])
    path = write_secondary_capture(results_of(sources, figure=tmp_path / "figure.png"), tmp_path / "f.sc.dcm")
    sc = read(path)
    np.testing.assert_array_equal(sc.pixel_array, pixels)
    assert sc.StudyInstanceUID == sources[0].StudyInstanceUID and sc.SeriesInstanceUID != sources[0].SeriesInstanceUID
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == sources[0].SOPInstanceUID
    assert sc.ImageType[0] == "DERIVED" and "test-model" in sc.DerivationDescription
    assert_valid(path)
