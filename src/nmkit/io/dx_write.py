"""Write a digital radiograph as DX Image Storage (For Presentation), MONOCHROME1 or MONOCHROME2, reproducibly.

Pixels are given as 12-bit display values where larger is denser (whiter on a MONOCHROME2 display);
for MONOCHROME1 the stored value is 4095 minus that, so a viewer that honours the tag shows the same image.
UIDs come from the patient ID and a hash of the pixels, and dates are fixed, so the same input gives the
same bytes.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian

from nmkit.atomic import atomic_path
from nmkit.io.dicom_write import person_name

DX_FOR_PRESENTATION = UID("1.2.840.10008.5.1.4.1.1.1.1")
PHOTOMETRICS = ("MONOCHROME1", "MONOCHROME2")
MAX_VALUE = 4095
FIXED_DATE, FIXED_TIME = "20000101", "000000"


def _uid(*parts: str) -> UID:
    """A 2.25 UID from the name-based (SHA-1) UUID of ``parts``."""
    return UID(f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, chr(31).join(('nmkit-dx', *parts))).int}")


def _code(value: str, meaning: str) -> Dataset:
    """A SNOMED CT code item."""
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "SCT", meaning
    return item


def write_dx_dicom(path: str | Path, pixels: np.ndarray, pixel_mm: float, photometric: str = "MONOCHROME2",
                   patient_id: str = "PHANTOM", series_description: str = "CHEST AP NEONATE",
                   window: tuple[float, float] = (2048.0, 4096.0)) -> Path:
    """Write (H, W) display values in 0..4095 (larger = denser) as one DX file, atomically; returns ``path``.

    ``window`` (centre, width) is written as WindowCenter/WindowWidth; the default shows the whole 12-bit range.
    """
    if photometric not in PHOTOMETRICS:
        raise ValueError(f"photometric must be one of {', '.join(PHOTOMETRICS)}, not {photometric!r}")
    values = np.asarray(pixels)
    if values.ndim != 2 or 0 in values.shape:
        raise ValueError(f"pixels must be a non-empty 2-D array, not shape {values.shape}")
    if not np.isfinite(values).all() or values.min() < 0 or values.max() > MAX_VALUE:
        raise ValueError(f"pixels must be finite values in 0..{MAX_VALUE}")
    if not window[1] > 0:
        raise ValueError(f"the window width must be positive, not {window[1]}")
    stored = np.rint(values).astype("<u2")
    if photometric == "MONOCHROME1":
        stored = (MAX_VALUE - stored).astype("<u2")
    digest = hashlib.sha1(stored.tobytes()).hexdigest()

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX_FOR_PRESENTATION
    meta.MediaStorageSOPInstanceUID = _uid(patient_id, "sop", digest)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = _uid("implementation")
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = DX_FOR_PRESENTATION, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = _uid(patient_id, "study")
    ds.SeriesInstanceUID = _uid(patient_id, "series", series_description)
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = FIXED_DATE
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = FIXED_TIME
    ds.Modality, ds.PresentationIntentType = "DX", "FOR PRESENTATION"
    ds.PatientID, ds.PatientName, ds.PatientBirthDate, ds.PatientSex = patient_id, person_name(patient_id), "", ""
    ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName, ds.Manufacturer = "1", "", "", "nmkit"
    ds.SeriesDescription, ds.BodyPartExamined, ds.ViewPosition = series_description, "CHEST", "AP"
    ds.AnatomicRegionSequence = [_code("43799004", "Chest")]
    ds.ViewCodeSequence = [_code("399348003", "antero-posterior")]
    ds.ImageLaterality, ds.PatientOrientation = "U", ["L", "F"]  # unpaired; an AP view seen facing the patient
    ds.DetectorType, ds.PositionerType, ds.AcquisitionContextSequence = "", "", []
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.Rows, ds.Columns = int(stored.shape[0]), int(stored.shape[1])
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelSpacing = ds.ImagerPixelSpacing = [f"{pixel_mm:.6g}", f"{pixel_mm:.6g}"]
    ds.WindowCenter, ds.WindowWidth = f"{window[0]:g}", f"{window[1]:g}"
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "US"
    # Larger stored values are denser (less X-ray intensity) in MONOCHROME2, lighter in MONOCHROME1.
    ds.PixelIntensityRelationship = "LIN"
    ds.PixelIntensityRelationshipSign = -1 if photometric == "MONOCHROME2" else 1
    ds.PresentationLUTShape = "IDENTITY" if photometric == "MONOCHROME2" else "INVERSE"
    ds.LossyImageCompression, ds.BurnedInAnnotation = "00", "NO"
    ds.PixelData = stored.tobytes()
    path = Path(path)
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return path
