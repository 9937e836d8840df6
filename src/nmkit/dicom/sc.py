"""The result figure as a Secondary Capture (RGB), for viewers that show neither SEG nor SR, built with highdicom."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
from PIL import Image as PILImage
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import nmkit
from nmkit.atomic import atomic_path
from nmkit.dicom.results import DicomResults, content_key
from nmkit.dicom.seg import quiet
from nmkit.io.dicom_write import derived_uid

SERIES_NUMBER = 903


def build_secondary_capture(results: DicomResults) -> hd.sc.SCImage:
    """The figure PNG of ``results`` as an SC image in the first source's study, referring to every source."""
    with PILImage.open(results.figure) as figure:
        pixels = np.asarray(figure.convert("RGB"))
    key = content_key(results, "sc")
    guard = quiet()
    try:
        sc = hd.sc.SCImage.from_ref_dataset(
            ref_dataset=results.sources[0], pixel_array=pixels, photometric_interpretation="RGB", bits_allocated=8,
            coordinate_system="PATIENT", patient_orientation=("L", "F"),
            series_instance_uid=derived_uid("series", *key), series_number=SERIES_NUMBER,
            sop_instance_uid=derived_uid("sop", *key), instance_number=1, manufacturer="nmkit",
            series_description=f"nmkit figure {results.title.meaning}"[:64])
    finally:
        guard.__exit__(None, None, None)
    sc.PatientOrientation = sc.Laterality = ""  # a figure has neither (type 2C: present, empty)
    sc.ImageType = ["DERIVED", "SECONDARY"]
    sc.BurnedInAnnotation = "YES"
    sc.SoftwareVersions = nmkit.__version__
    sc.DerivationDescription = f"nmkit {results.model.name} (sha256 {results.model.sha256[:16]}...) result figure"
    references = []
    for ds in results.sources:
        ref = Dataset()
        ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
        references.append(ref)
    sc.SourceImageSequence = Sequence(references)
    return sc


def write_secondary_capture(results: DicomResults, path: str | Path) -> Path:
    """Build the SC of ``results`` and write it to ``path`` atomically."""
    sc = build_secondary_capture(results)
    with atomic_path(path) as tmp:
        sc.save_as(tmp, enforce_file_format=True)
    return Path(path)
