"""DICOM reader (pydicom 3): single- and multi-frame images, NM in particular, compressed ones via pylibjpeg.

Pixels are returned as stored after RescaleSlope/RescaleIntercept; MONOCHROME1 is not inverted
(``metadata["photometric_interpretation"]`` says so). Colour images become grey with a note.
"""

from __future__ import annotations

import math
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset, read_preamble
from pydicom.pixels import apply_color_lut, get_decoder
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ExplicitVRLittleEndian, \
    ImplicitVRLittleEndian

from nmkit.errors import InputError
from nmkit.io._common import LUMA_NOTE, checked_pixels, reason, require_file, to_grey
from nmkit.io.image import Header, Image
from nmkit.limits import check_inflated, check_pixels

PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
FLOAT_BYTES = {"FloatPixelData": 4, "DoubleFloatPixelData": 8}
UNDEFINED_LENGTH = 0xFFFFFFFF
DEFLATED_HEADER_BYTES = (256 << 10, 16 << 20)  # a deflated file's header is read from this much, then this


def read_dicom_dataset(path: str | Path, stop_before_pixels: bool = False) -> Dataset:
    """The pydicom Dataset of a DICOM file, with or without the 128-byte preamble; InputError when it is not one.

    A deflated file is first inflated chunk by chunk against the pixel cap (:mod:`nmkit.limits`), so a
    deflate bomb is refused before pydicom inflates it in memory."""
    path = require_file(path)
    with warnings.catch_warnings(record=True) as caught:  # pydicom warns, rather than fails, on damaged files
        warnings.simplefilter("always")
        try:
            ds = _read_deflated(path, stop_before_pixels)
            if ds is None:
                ds = pydicom.dcmread(path, stop_before_pixels=stop_before_pixels)
        except InvalidDicomError:
            ds = _force_read(path, stop_before_pixels)
        except InputError:
            raise
        except Exception as exc:  # pydicom raises many types on damaged files
            raise InputError(path, f"is a truncated or corrupt DICOM file ({reason(exc)})") from exc
        try:
            _check_not_truncated(ds, path)
            ds.walk(lambda *_: None)  # pydicom converts raw elements on first use: a bad one fails here, not later
        except InputError:
            raise
        except Exception as exc:
            raise InputError(path, f"is a corrupt DICOM file ({reason(exc)})") from exc
    if not any(tag.group != 0x0002 for tag in ds.keys()):
        detail = reason(caught[-1].message).split(" in file ")[0] if caught else \
            "no data elements after the file meta header"
        raise InputError(path, f"is a truncated or corrupt DICOM file ({detail})")
    _ensure_transfer_syntax(ds)
    return ds


def _read_deflated(path: Path, stop_before_pixels: bool) -> Dataset | None:
    """For a Deflated Explicit VR Little Endian file: its header (read from the first inflated bytes), checked
    against the pixel cap. With ``stop_before_pixels`` that header is returned; else the whole stream is
    inflated chunk by chunk (counted, not kept) to check it holds no more than the header declares, and None
    lets pydicom read the file, now known to be bounded. None too for every other file."""
    with open(path, "rb") as handle:
        try:
            read_preamble(handle, force=True)
            meta = read_dataset(handle, False, True, stop_when=lambda tag, vr, length: tag.group != 0x0002)
        except Exception:  # not a DICOM file with file meta information: the ordinary path judges it
            return None
        if meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
            return None
        start = handle.tell()
        for keep in DEFLATED_HEADER_BYTES:  # most headers end within the first 256 kB; Siemens CSA ones may not
            handle.seek(start)
            head = check_inflated(path, handle, -zlib.MAX_WBITS, keep=keep)
            if len(head) < keep or any(tag.to_bytes(4, "little")[2:] + tag.to_bytes(4, "little")[:2] in head
                                       for tag in PIXEL_TAGS):
                break
        ds = read_dataset(DicomBytesIO(head), False, True, stop_when=lambda tag, vr, length: tag in PIXEL_TAGS)
        ds.file_meta = FileMetaDataset(meta)
        declared = check_dicom_size(ds, path)
        if stop_before_pixels:
            return ds
        handle.seek(start)
        check_inflated(path, handle, -zlib.MAX_WBITS, limit=declared + 2 * len(head) + (1 << 20))
    return None


def _force_read(path: Path, stop_before_pixels: bool) -> Dataset:
    """Read a DICOM file that lacks the preamble; reject files that only parse as noise."""
    try:
        ds = pydicom.dcmread(path, force=True, stop_before_pixels=stop_before_pixels)
    except Exception as exc:
        raise InputError(path, "is not a DICOM file") from exc
    tags = list(ds.keys())
    if not tags or not any(tag.group in (0x0008, 0x0028) for tag in tags):
        raise InputError(path, "is not a DICOM file")
    return ds


def _check_not_truncated(ds: Dataset, path: Path) -> None:
    """pydicom reads a file cut short without complaint: the last element's value is then short."""
    tags = list(ds.keys())
    if not tags:
        return
    raw = ds.get_item(max(tags))
    length, value = getattr(raw, "length", None), getattr(raw, "value", None)
    if isinstance(value, bytes) and length not in (None, UNDEFINED_LENGTH) and len(value) < length:
        raise InputError(path, f"is a truncated DICOM file: element {max(tags)} holds {len(value)} "
                               f"of its {length} bytes")


def _ensure_transfer_syntax(ds: Dataset) -> None:
    """A file without meta information has no Transfer Syntax UID: take it from how it was read."""
    if not hasattr(ds, "file_meta"):
        ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" in ds.file_meta:
        return
    implicit, little = ds.original_encoding
    if implicit is None:
        implicit, little = True, True
    ds.file_meta.TransferSyntaxUID = (ImplicitVRLittleEndian if implicit
                                      else ExplicitVRLittleEndian if little else ExplicitVRBigEndian)


def read_dicom(path: str | Path) -> Image:
    """A DICOM image as counts (or rescaled values) of shape (frames, rows, columns); TooLarge when its
    declared pixels exceed the cap (checked on the header, before the pixel data are read)."""
    check_dicom_size(read_dicom_dataset(path, stop_before_pixels=True), path)
    ds = read_dicom_dataset(path)
    path = Path(path)
    check_dicom_size(ds, path)
    metadata = dicom_metadata(ds)
    pixels = _decoded_pixels(ds, path, metadata)
    slope, intercept = metadata["rescale_slope"], metadata["rescale_intercept"]
    if slope is not None or intercept is not None:
        pixels = pixels.astype(np.float64) * (1.0 if slope is None else slope) + (intercept or 0.0)
    array = checked_pixels(pixels, path)
    metadata["n_frames"] = int(array.shape[0])
    spacing, source = _pixel_spacing(ds)
    metadata["spacing_known"] = spacing is not None
    metadata["spacing_source"] = source
    return Image(array=array, pixel_spacing=spacing or (1.0, 1.0), modality=metadata["modality"] or "OT",
                 metadata=metadata, path=path, slice_spacing=_slice_spacing(ds, int(array.shape[0])))


def dicom_header(path: str | Path) -> Header:
    """Shape, modality and metadata of a DICOM file from the elements before its pixel data; TooLarge when
    the declared pixels exceed the cap."""
    ds = read_dicom_dataset(path, stop_before_pixels=True)
    check_dicom_size(ds, path)
    metadata = dicom_metadata(ds)
    return Header("dicom", (metadata["n_frames"], metadata["rows"] or 0, metadata["columns"] or 0),
                  metadata["modality"] or "OT", metadata)


def check_dicom_size(ds: Dataset, path: str | Path) -> int:
    """Rows x Columns x frames x samples x bytes per sample against the pixel cap (TooLarge); the bytes."""
    keyword = next((k for k in ("FloatPixelData", "DoubleFloatPixelData") if k in ds), None)
    bits = _int(ds.get("BitsAllocated")) or 8
    sample_bytes = FLOAT_BYTES[keyword] if keyword else max(bits, 1) / 8
    shape = [_int(ds.get("NumberOfFrames")) or 1, _int(ds.get("Rows")) or 0, _int(ds.get("Columns")) or 0,
             _int(ds.get("SamplesPerPixel")) or 1]
    colour = 3 if _text(ds.get("PhotometricInterpretation")) == "PALETTE COLOR" else 1
    check_pixels(path, [*shape, colour], sample_bytes)
    return int(math.prod(shape) * sample_bytes)


def _decoded_pixels(ds: Dataset, path: Path, metadata: dict[str, Any]) -> np.ndarray:
    """The pixel array as (frames, rows, cols) or (rows, cols); clear errors for every failure."""
    if not any(keyword in ds for keyword in PIXEL_KEYWORDS):
        raise InputError(path, "is a DICOM file without pixel data (it has no PixelData element)")
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    label = f"{syntax.name} ({syntax})" if syntax.name != syntax else str(syntax)
    if "PixelData" in ds:
        try:
            decoder = get_decoder(syntax)
        except NotImplementedError as exc:
            raise InputError(path, f"its pixel data use the transfer syntax {label}, "
                                   "which nmkit cannot decode") from exc
        if not decoder.is_available:
            missing = "; ".join(decoder.missing_dependencies) or "a decoder plugin"
            raise InputError(path, f"its pixel data use the transfer syntax {label}, whose codec is not installed "
                                   f"(needs {missing})")
    try:
        pixels = ds.pixel_array
    except Exception as exc:
        detail = reason(exc).replace("Unable to decode as exceptions were raised by all available plugins: ", "")
        raise InputError(path, f"its pixel data could not be decoded ({label}): {detail}") from exc
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    photometric = metadata["photometric_interpretation"]
    if photometric == "PALETTE COLOR":
        try:
            pixels = apply_color_lut(pixels, ds)
        except Exception as exc:
            raise InputError(path, f"its palette colour lookup table could not be applied ({reason(exc)})") from exc
        samples = 3
    if samples > 1:
        pixels = to_grey(pixels)
        metadata["conversion_note"] = LUMA_NOTE
    return pixels


def _pixel_spacing(ds: Dataset) -> tuple[tuple[float, float] | None, str | None]:
    """(row, col) spacing in mm and where it came from, or (None, None) when the file does not say."""
    candidates = [("PixelSpacing", ds)]
    for keyword in ("DetectorInformationSequence", "SharedFunctionalGroupsSequence"):
        if ds.get(keyword):
            item = ds[keyword][0]
            if keyword == "SharedFunctionalGroupsSequence" and item.get("PixelMeasuresSequence"):
                item = item.PixelMeasuresSequence[0]
            candidates.append((keyword, item))
    candidates.append(("ImagerPixelSpacing", ds))
    for source, holder in candidates:
        keyword = "ImagerPixelSpacing" if source == "ImagerPixelSpacing" else "PixelSpacing"
        value = holder.get(keyword)
        try:
            row, col = (float(v) for v in value)
        except (TypeError, ValueError):
            continue
        if row > 0 and col > 0 and np.isfinite(row) and np.isfinite(col):
            return (row, col), source
    return None, None


def _slice_spacing(ds: Dataset, n_frames: int) -> float | None:
    """Slice distance (mm) for multi-frame volumes (SpacingBetweenSlices, else SliceThickness of a RECON)."""
    if n_frames < 2:
        return None
    image_type = " ".join(_strings(ds.get("ImageType")))
    keywords = ["SpacingBetweenSlices"] + (["SliceThickness"] if "RECON" in image_type else [])
    for keyword in keywords:
        value = _number(ds.get(keyword))
        if value:
            return abs(value)
    return None


def dicom_metadata(ds: Dataset) -> dict[str, Any]:
    """A small JSON-serialisable summary of the tags nmkit uses (strings, numbers, lists, None)."""
    syntax = UID(ds.file_meta.TransferSyntaxUID) if "TransferSyntaxUID" in ds.file_meta else None
    detector_items = list(ds.get("DetectorInformationSequence") or [])
    slope, intercept = _number(ds.get("RescaleSlope")), _number(ds.get("RescaleIntercept"))
    return {
        "format": "dicom",
        "modality": _text(ds.get("Modality")),
        "manufacturer": _text(ds.get("Manufacturer")),
        "manufacturer_model_name": _text(ds.get("ManufacturerModelName")),
        "station_name": _text(ds.get("StationName")),
        "device_serial_number": _text(ds.get("DeviceSerialNumber")),
        "detector_ids": _detector_ids(ds, detector_items),
        "collimator": _text(detector_items[0].get("CollimatorGridName")) if detector_items else None,
        "acquisition_date": _first_text(ds, "AcquisitionDate", "ContentDate", "SeriesDate", "StudyDate"),
        "acquisition_time": _first_text(ds, "AcquisitionTime", "ContentTime", "SeriesTime", "StudyTime"),
        "series_description": _text(ds.get("SeriesDescription")),
        "study_description": _text(ds.get("StudyDescription")),
        "patient_id": _text(ds.get("PatientID")),
        "image_type": _strings(ds.get("ImageType")),
        "n_frames": int(_number(ds.get("NumberOfFrames")) or 1),
        "rows": _int(ds.get("Rows")),
        "columns": _int(ds.get("Columns")),
        "bits_stored": _int(ds.get("BitsStored")),
        "transfer_syntax": None if syntax is None else str(syntax),
        "transfer_syntax_name": None if syntax is None else syntax.name,
        "photometric_interpretation": _text(ds.get("PhotometricInterpretation")),
        "rescale_slope": slope,
        "rescale_intercept": intercept,
        "units": _text(ds.get("Units")),
        "sop_class_uid": _text(ds.get("SOPClassUID")),
        **_gating(ds),
    }


def _gating(ds: Dataset) -> dict[str, Any]:
    """ECG-gating tags (gated blood pool, gated SPECT); None where the file does not give them."""
    slots = list(ds.get("TimeSlotInformationSequence") or [])
    pointer = ds.get("FrameIncrementPointer")
    tags = pointer if type(pointer).__name__ == "MultiValue" else [] if pointer is None else [pointer]
    keywords = [keyword_for_tag(tag) or str(tag) for tag in tags]
    return {
        "heart_rate_bpm": _number(ds.get("HeartRate")),
        "frame_time_ms": _number(ds.get("FrameTime")),
        "nominal_interval_ms": _number(ds.get("NominalInterval")),
        "n_time_slots": _int(ds.get("NumberOfTimeSlots")),
        "time_slot_time_ms": _number(slots[0].get("TimeSlotTime")) if slots else None,
        "frame_increment_pointer": keywords or None,
        "gated": "GATED" in [v.upper() for v in _strings(ds.get("ImageType"))] or "TimeSlotVector" in keywords,
    }


def _detector_ids(ds: Dataset, items: list[Dataset]) -> list[str]:
    """DetectorID of each DetectorInformationSequence item; else the NM DetectorVector heads; else top-level ID."""
    ids = [_text(item.get("DetectorID")) for item in items if _text(item.get("DetectorID"))]
    if ids:
        return ids
    heads = sorted({int(v) for v in _strings(ds.get("DetectorVector")) if v.isdigit()})
    if heads:
        return [str(head) for head in heads]
    top = _text(ds.get("DetectorID"))
    return [top] if top else []


def _text(value: Any) -> str | None:
    """A tag value as a plain stripped string, None when absent or empty."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        value = "\\".join(str(v) for v in value)
    text = str(value).strip()
    return text or None


def _first_text(ds: Dataset, *keywords: str) -> str | None:
    for keyword in keywords:
        text = _text(ds.get(keyword))
        if text:
            return text
    return None


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    values = value if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else [value]
    return [str(v).strip() for v in values]


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _int(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)
