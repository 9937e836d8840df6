"""Write multi-frame NM Image Storage DICOM files, static or ECG-gated, byte for byte reproducible.

Pixels are stored as uint16 counts, rounded; counts outside 0..65535 raise ValueError (never clipped or
rescaled, so what is read back is what was written). UIDs are derived from the patient ID, the series
description and a hash of the content, and dates are fixed unless ``extra`` sets them, so the same input
always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import Tag
from pydicom.uid import UID, ExplicitVRLittleEndian, NuclearMedicineImageStorage
from pydicom.valuerep import DSfloat

from nmkit.atomic import atomic_path

FIXED_DATE, FIXED_TIME = "20000101", "000000"
GATED_KEYS = ("heart_rate_bpm", "r_r_ms", "n_time_slots", "intervals_acquired")


def derived_uid(*parts: str) -> UID:
    """A 2.25 UID from the name-based (SHA-1) UUID of ``parts``: the same parts, the same UID."""
    name = "\x1f".join(("nmkit", *parts))
    return UID(f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, name).int}")


FRAME_VECTORS = ("EnergyWindowVector", "DetectorVector", "PhaseVector", "RotationVector", "RRIntervalVector",
                 "TimeSlotVector", "SliceVector", "AngularViewVector", "TimeSliceVector")  # the standard's order


BODY_PARTS = {"GATED": "HEART", "WHOLE BODY": "WHOLEBODY"}  # what a gated or whole-body study shows


def _complete(ds: Dataset, given: set[str]) -> None:
    """What the NM Image IOD asks for and the caller left out: the frame increment pointer of the vectors
    present (unless given), the body part (so Laterality may be absent), frame durations (0: not known) and the
    Type 2 attributes (empty)."""
    if "FrameIncrementPointer" not in given:
        ds.FrameIncrementPointer = [Tag(keyword) for keyword in FRAME_VECTORS if keyword in ds]
    kind = ds.ImageType[2] if len(ds.ImageType) > 2 else ""  # a caller may give a shorter ImageType
    if "BodyPartExamined" not in ds and kind in BODY_PARTS:
        ds.BodyPartExamined = BODY_PARTS[kind]
    if "BodyPartExamined" not in ds and "Laterality" not in ds:
        ds.Laterality = ""  # a flood or a source images no body part: laterality not known
    if kind in ("STATIC", "WHOLE BODY") and "ActualFrameDuration" not in ds:
        ds.ActualFrameDuration = 0
    if kind == "WHOLE BODY":
        for keyword in ("ScanVelocity", "ScanLength"):
            if keyword not in ds:
                setattr(ds, keyword, None)
    for rotation in ds.get("RotationInformationSequence", []):
        if "ActualFrameDuration" not in rotation:
            rotation.ActualFrameDuration = 0
    for head in ds.DetectorInformationSequence:  # NM Detector module: Type 2 in every item
        for keyword in ("CollimatorType", "ImagePositionPatient", "ImageOrientationPatient"):
            if keyword not in head:
                setattr(head, keyword, None)


def person_name(patient_id: str) -> str:
    """A Patient's Name in the DICOM form FAMILY^GIVEN: a one-word ID becomes a family name (``PHANTOM^``)."""
    return patient_id if "^" in patient_id else f"{patient_id}^"


def _ds(value: float) -> DSfloat:
    return DSfloat(float(value), auto_format=True)


def _item(**keywords: Any) -> Dataset:
    item = Dataset()
    for keyword, value in keywords.items():
        setattr(item, keyword, value)
    return item


def _pixels(frames: np.ndarray) -> np.ndarray:
    """(F, H, W) counts as little-endian uint16; ValueError for anything that is not counts in 0..65535."""
    array = np.asarray(frames, dtype=np.float64)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or 0 in array.shape:
        raise ValueError(f"frames must be a non-empty (frames, rows, columns) array, not shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("frames hold NaN or infinite values")
    counts = np.rint(array)
    if counts.min() < 0 or counts.max() > 65535:
        raise ValueError(f"counts must lie in 0..65535 for uint16 pixels, not {counts.min():g}..{counts.max():g}")
    return counts.astype("<u2")


def _add_gating(ds: Dataset, gated: dict[str, Any], n_frames: int) -> None:
    """The NM Multi-frame vectors and the NM Multi-gated Acquisition module of a forward-gated study."""
    unknown = sorted(set(gated) - set(GATED_KEYS))
    if unknown or "heart_rate_bpm" not in gated:
        raise ValueError(f"gated needs heart_rate_bpm and may hold {', '.join(GATED_KEYS[1:])}; got {sorted(gated)}")
    heart_rate = float(gated["heart_rate_bpm"])
    if not 0 < heart_rate < 400:
        raise ValueError(f"heart_rate_bpm must be in (0, 400), not {heart_rate}")
    r_r = float(gated.get("r_r_ms", 60_000.0 / heart_rate))
    if int(gated.get("n_time_slots", n_frames)) != n_frames:
        raise ValueError(f"n_time_slots ({gated['n_time_slots']}) must equal the number of frames ({n_frames})")
    ds.NumberOfRRIntervals, ds.RRIntervalVector = 1, [1] * n_frames
    ds.NumberOfTimeSlots, ds.TimeSlotVector = n_frames, list(range(1, n_frames + 1))
    ds.BeatRejectionFlag, ds.HeartRate = "N", round(heart_rate)
    data = _item(FrameTime=_ds(r_r / n_frames), NominalInterval=round(r_r),
                 TimeSlotInformationSequence=[_item(TimeSlotTime=_ds(r_r / n_frames)) for _ in range(n_frames)])
    if "intervals_acquired" in gated:
        data.IntervalsAcquired, data.IntervalsRejected = int(gated["intervals_acquired"]), 0
    ds.GatedInformationSequence = [_item(TriggerTime=_ds(0.0), CardiacFramingType="FORW",
                                         DataInformationSequence=[data])]


def write_nm_dicom(path: str | Path, frames: np.ndarray, pixel_spacing_mm: tuple[float, float], *,
                   gated: dict[str, Any] | None = None, patient_id: str = "PHANTOM", series_description: str = "",
                   extra: dict[str, Any] | None = None) -> Path:
    """Write ``frames`` (F, H, W counts) as one multi-frame NM Image Storage file (explicit VR little endian).

    ``pixel_spacing_mm`` is (row, column). Without ``gated`` the image is STATIC (frame increment: energy
    window and detector vectors). With ``gated`` = {"heart_rate_bpm", optional "r_r_ms" (default
    60000 / rate), "n_time_slots" (must equal F), "intervals_acquired"} it is what a camera writes for a
    forward-gated blood-pool study: ImageType ORIGINAL\\PRIMARY\\GATED\\EMISSION, one time slot per frame
    (TimeSlotVector 1..F), HeartRate, and a GatedInformationSequence holding TriggerTime 0 and a
    DataInformationSequence with FrameTime (R-R / F ms), NominalInterval (R-R ms) and one
    TimeSlotInformationSequence item (TimeSlotTime) per slot. ``extra`` sets further keywords and wins over
    everything but the pixel description; Type 2 attributes it leaves out (in its DetectorInformationSequence items
    too) are written empty, so every file passes dciodvfy. A STATIC or WHOLE BODY image says ActualFrameDuration
    0 (not known) unless ``extra`` gives it. The file is written atomically; returns ``path``.
    """
    path = Path(path)
    pixels = _pixels(frames)
    n_frames, rows, cols = pixels.shape
    spacing = tuple(float(v) for v in pixel_spacing_mm)
    if len(spacing) != 2 or not all(np.isfinite(v) and v > 0 for v in spacing):
        raise ValueError(f"pixel_spacing_mm must be two positive numbers, not {pixel_spacing_mm!r}")
    unknown = [k for k in (extra or {}) if tag_for_keyword(k) is None]
    if unknown:
        raise ValueError(f"extra holds unknown DICOM keywords: {', '.join(unknown)}")
    content = hashlib.sha256(pixels.tobytes() + repr((spacing, sorted((gated or {}).items()),
                                                      sorted((extra or {}).items(), key=str))).encode())
    sop_uid = derived_uid("sop", patient_id, series_description, content.hexdigest())

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = NuclearMedicineImageStorage, sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = NuclearMedicineImageStorage, sop_uid
    ds.StudyInstanceUID = derived_uid("study", patient_id)
    ds.SeriesInstanceUID = derived_uid("series", patient_id, series_description)
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = person_name(patient_id), patient_id, "", ""
    for prefix in ("Study", "Series", "Acquisition", "Content"):
        setattr(ds, f"{prefix}Date", FIXED_DATE)
        setattr(ds, f"{prefix}Time", FIXED_TIME)
    ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "", ""
    ds.Modality, ds.Manufacturer, ds.SeriesDescription = "NM", "nmkit", series_description
    ds.SeriesNumber, ds.InstanceNumber, ds.PatientOrientation = 1, 1, ""
    ds.ImageType = ["ORIGINAL", "PRIMARY", "STATIC" if gated is None else "GATED", "EMISSION"]
    ds.NumberOfEnergyWindows, ds.EnergyWindowVector = 1, [1] * n_frames
    ds.NumberOfDetectors, ds.DetectorVector = 1, [1] * n_frames
    ds.DetectorInformationSequence = [Dataset()]
    ds.EnergyWindowInformationSequence, ds.RadiopharmaceuticalInformationSequence = [], []
    ds.PatientOrientationCodeSequence, ds.PatientGantryRelationshipCodeSequence = [], []
    total = int(pixels.sum(dtype=np.int64))
    ds.CountsAccumulated = total if total < 2**31 else None  # IS holds 32-bit numbers; Type 2: empty beyond
    if gated is not None:
        _add_gating(ds, gated, n_frames)
    for keyword, value in (extra or {}).items():
        setattr(ds, keyword, value)
    _complete(ds, set(extra or ()))
    ds.NumberOfFrames, ds.Rows, ds.Columns = n_frames, rows, cols
    ds.PixelSpacing = [_ds(v) for v in spacing]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = pixels.tobytes()
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return path


__all__ = ["GATED_KEYS", "derived_uid", "person_name", "write_nm_dicom"]
