"""The result figure as a Secondary Capture (RGB), for viewers that show neither SEG nor SR, built with highdicom."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
from PIL import Image as PILImage

import nmkit
from nmkit.dicom.results import DicomResults, content_key, quiet, references, save
from nmkit.io.dicom_write import derived_uid

SERIES_NUMBER = 903


def build_secondary_capture(results: DicomResults) -> hd.sc.SCImage:
    """The figure PNG of ``results`` as an SC image in the first source's study, referring to every source."""
    with PILImage.open(results.figure) as figure:
        pixels = np.asarray(figure.convert("RGB"))
    key = content_key(results, "sc")
    with quiet():
        sc = hd.sc.SCImage.from_ref_dataset(
            ref_dataset=results.sources[0], pixel_array=pixels, photometric_interpretation="RGB", bits_allocated=8,
            coordinate_system="PATIENT", patient_orientation=("L", "F"),
            series_instance_uid=derived_uid("series", *key), series_number=SERIES_NUMBER,
            sop_instance_uid=derived_uid("sop", *key), instance_number=1, manufacturer="nmkit",
            series_description=f"nmkit figure {results.title.meaning}"[:64])
    sc.PatientOrientation = sc.Laterality = ""  # a figure has neither (type 2C: present, empty)
    sc.ImageType = ["DERIVED", "SECONDARY"]
    sc.BurnedInAnnotation = "YES"
    sc.SoftwareVersions = nmkit.__version__
    sc.DerivationDescription = f"nmkit {results.model.name} (sha256 {results.model.sha256[:16]}...) result figure"
    sc.SourceImageSequence = references(results.sources)
    return sc


def write_secondary_capture(results: DicomResults, path: str | Path) -> Path:
    """Build the SC of ``results`` and write it to ``path`` atomically."""
    return save(build_secondary_capture(results), path)
