"""PET in SUVbw: DICOM PT slices or series -> body-weight SUV volume, and NIfTI writing of SUV volumes.

SUVbw = C (Bq/mL, after each slice's RescaleSlope/Intercept) x weight (g) / (injected dose (Bq) x decay),
with 1 g = 1 mL. ``decay`` is the fraction of the dose left at the time the image is decay-corrected to:
2^(-(scan - injection) / half-life) for DecayCorrection START (scan = series start, or the earliest
acquisition time when the series time is later, as in the QIBA vendor-neutral recipe), and 1 for ADMIN
(already corrected to the injection time). ``suv_factor`` = weight / (dose x decay), in g/Bq.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from pydicom.dataset import Dataset

from nmkit.atomic import atomic_path
from nmkit.errors import InputError
from nmkit.io.dicom import read_dicom, read_dicom_dataset
from nmkit.io.image import Image

DECAY_CORRECTIONS = ("START", "ADMIN")


@dataclass(frozen=True)
class SUVCalibration:
    """How a PT series' Bq/mL become SUVbw: ``suv = bq_per_ml * suv_factor``."""

    suv_factor: float
    weight_kg: float
    injected_dose_bq: float
    half_life_s: float
    decay_correction: str
    injection_time: str
    reference_time: str
    decay_factor: float
    delay_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def suv_calibration(ds: Dataset, path: str | Path) -> SUVCalibration:
    """The SUVbw calibration of one PT dataset; InputError naming the file and the missing or bad tag."""
    if _text(ds, "Modality") != "PT":
        raise InputError(path, f"is not a PET image (Modality {_text(ds, 'Modality') or 'missing'}, expected PT)")
    units = _text(ds, "Units")
    if units != "BQML":
        raise InputError(path, f"has Units {units or 'missing'}; SUVbw needs activity concentration (BQML)")
    decay_correction = _text(ds, "DecayCorrection")
    if decay_correction not in DECAY_CORRECTIONS:
        raise InputError(path, f"has DecayCorrection {decay_correction or 'missing'}; nmkit needs START or ADMIN")
    weight = _positive(ds, "PatientWeight", path)
    items = list(ds.get("RadiopharmaceuticalInformationSequence") or [])
    if not items:
        raise InputError(path, "has no RadiopharmaceuticalInformationSequence (dose, half-life, injection time)")
    drug = items[0]
    dose = _positive(drug, "RadionuclideTotalDose", path)
    half_life = _positive(drug, "RadionuclideHalfLife", path)
    injection = _injection_time(ds, drug, path)
    reference = _scan_time(ds, path)
    delay = (reference - injection).total_seconds()
    if decay_correction == "START" and delay < 0:
        raise InputError(path, f"the injection time ({injection:%Y-%m-%d %H:%M:%S}) is after the series start "
                               f"({reference:%Y-%m-%d %H:%M:%S})")
    decay = 2.0 ** (-delay / half_life) if decay_correction == "START" else 1.0
    return SUVCalibration(suv_factor=weight * 1000.0 / (dose * decay), weight_kg=weight, injected_dose_bq=dose,
                          half_life_s=half_life, decay_correction=decay_correction,
                          injection_time=injection.isoformat(), reference_time=reference.isoformat(),
                          decay_factor=decay, delay_s=delay)


def read_pet_suv(source: str | Path | list[str | Path]) -> Image:
    """A PT series in SUVbw: one file, a list of slice files, or a folder of them (one series).

    Slices are ordered along the slice normal (ImagePositionPatient), else by InstanceNumber; each slice
    keeps its own RescaleSlope/Intercept. ``metadata["suv"]`` holds the calibration and, when the slices
    carry ImagePositionPatient and ImageOrientationPatient, ``metadata["affine"]`` the NIfTI (RAS) affine of
    the volume as :func:`write_suv_nifti` lays it out.
    """
    paths = _pet_files(source)
    slices = []
    for path in paths:
        ds = read_dicom_dataset(path, stop_before_pixels=True)
        calibration = suv_calibration(ds, path)
        slices.append((path, ds, calibration))
    series = {_text(ds, "SeriesInstanceUID") for _, ds, _ in slices}
    if len(series) > 1:
        raise InputError(paths[0].parent, f"holds {len(series)} PET series; give the files of one series")
    first = slices[0][2]
    for path, _, calibration in slices[1:]:
        if not math.isclose(calibration.suv_factor, first.suv_factor, rel_tol=1e-9):
            raise InputError(path, "its SUV tags (weight, dose, times) differ from the rest of the series")
    slices.sort(key=lambda item: _slice_position(item[1]))
    images = [read_dicom(path) for path, _, _ in slices]
    shapes = {image.array.shape[1:] for image in images}
    if len(shapes) > 1:
        raise InputError(paths[0].parent, f"its slices have different sizes {sorted(shapes)}")
    array = np.concatenate([image.array for image in images]) * np.float32(first.suv_factor)
    if not np.any(array):
        raise InputError(paths[0] if len(paths) == 1 else paths[0].parent, "the PET volume is empty (all zero)")
    metadata = dict(images[0].metadata) | {"units": "SUVbw", "suv": first.as_dict(), "n_files": len(paths)}
    slice_spacing = _slice_spacing([ds for _, ds, _ in slices]) or images[0].slice_spacing
    affine = _affine(slices[0][1], images[0].pixel_spacing, slice_spacing or 1.0)
    if affine is not None:
        metadata["affine"] = affine.tolist()
    return Image(array=array, pixel_spacing=images[0].pixel_spacing, modality="PT", metadata=metadata,
                 path=paths[0] if len(paths) == 1 else paths[0].parent, slice_spacing=slice_spacing)


def write_suv_nifti(path: str | Path, array: np.ndarray, spacing: tuple[float, float, float] | None = None,
                    affine: np.ndarray | None = None, description: str = "PT SUVbw") -> Path:
    """Write a (slices, H, W) volume as NIfTI-1 (float32; gzip without timestamp for .gz), atomically.

    Geometry is ``affine`` when given (e.g. the input's), else a diagonal one from ``spacing`` = (dz, dy, dx) mm.
    """
    path = Path(path)
    data = np.ascontiguousarray(np.asarray(array, dtype=np.float32).transpose(2, 1, 0))
    if affine is None:
        dz, dy, dx = spacing or (1.0, 1.0, 1.0)
        affine = np.diag([dx, dy, dz, 1.0])
    image = nib.Nifti1Image(data, np.asarray(affine, dtype=np.float64))
    image.header.set_xyzt_units("mm")
    image.header["descrip"] = description.encode()[:79]
    raw = image.to_bytes()
    with atomic_path(path) as tmp:
        if path.name.lower().endswith(".gz"):
            with open(tmp, "wb") as handle, gzip.GzipFile(fileobj=handle, mode="wb", mtime=0, filename="") as gz:
                gz.write(raw)
        else:
            tmp.write_bytes(raw)
    return path


def _pet_files(source: str | Path | list[str | Path]) -> list[Path]:
    if isinstance(source, (list, tuple)):
        paths = [Path(p) for p in source]
    else:
        source = Path(source)
        if source.is_dir():
            paths = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
            if not paths:
                raise InputError(source, "is an empty folder (expected PET DICOM slices)")
        else:
            paths = [source]
    if not paths:
        raise InputError(None, "no PET files given")
    return paths


def _text(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    text = "" if value is None else str(value).strip()
    return text.upper() if keyword in ("Modality", "Units", "DecayCorrection") and text else (text or None)


def _positive(ds: Dataset, keyword: str, path: str | Path) -> float:
    value = ds.get(keyword)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(path, f"has no {keyword}, which SUVbw needs") from None
    if not (math.isfinite(number) and number > 0):
        raise InputError(path, f"has {keyword} {value}, which must be a positive number for SUVbw")
    return number


def _datetime(date: str | None, time: str | None) -> datetime | None:
    """A DICOM DA + TM (HHMMSS.ffffff, parts optional) as a datetime; None when either is missing or malformed."""
    if not date or not time:
        return None
    try:
        day = datetime.strptime(date.strip()[:8], "%Y%m%d")
        clock, _, fraction = time.strip().partition(".")
        clock = clock.ljust(6, "0")
        seconds = int(clock[:2]) * 3600 + int(clock[2:4]) * 60 + int(clock[4:6])
        return day + timedelta(seconds=seconds + (float("0." + fraction) if fraction else 0.0))
    except ValueError:
        return None


def _injection_time(ds: Dataset, drug: Dataset, path: str | Path) -> datetime:
    full = _text(drug, "RadiopharmaceuticalStartDateTime")
    if full:
        moment = _datetime(full[:8], full[8:])
        if moment is not None:
            return moment
    moment = _datetime(_text(ds, "SeriesDate") or _text(ds, "AcquisitionDate") or _text(ds, "StudyDate"),
                       _text(drug, "RadiopharmaceuticalStartTime"))
    if moment is None:
        raise InputError(path, "has no readable injection time (RadiopharmaceuticalStartTime), which SUVbw needs")
    return moment


def _scan_time(ds: Dataset, path: str | Path) -> datetime:
    """The series start; the acquisition time instead when it is earlier (series time rewritten after the scan)."""
    series = _datetime(_text(ds, "SeriesDate"), _text(ds, "SeriesTime"))
    acquisition = _datetime(_text(ds, "AcquisitionDate") or _text(ds, "SeriesDate"), _text(ds, "AcquisitionTime"))
    if series is None and acquisition is None:
        raise InputError(path, "has no readable SeriesDate/SeriesTime (or AcquisitionTime), which SUVbw needs")
    if series is None or (acquisition is not None and acquisition < series):
        return acquisition
    return series


def _slice_position(ds: Dataset) -> float:
    position, orientation = ds.get("ImagePositionPatient"), ds.get("ImageOrientationPatient")
    if position is not None and orientation is not None and len(orientation) == 6:
        normal = np.cross(np.asarray(orientation[:3], float), np.asarray(orientation[3:], float))
        return float(np.dot(normal, np.asarray(position, float)))
    return float(ds.get("InstanceNumber") or 0)


def _affine(first: Dataset, pixel_spacing: tuple[float, float], slice_spacing: float) -> np.ndarray | None:
    """The RAS affine of NIfTI voxel (column, row, slice) for slices sorted by :func:`_slice_position`, from the
    first slice's ImagePositionPatient and ImageOrientationPatient (DICOM's LPS, so x and y change sign)."""
    position, orientation = first.get("ImagePositionPatient"), first.get("ImageOrientationPatient")
    if position is None or orientation is None or len(orientation) != 6 or len(position) != 3:
        return None
    along_row, along_column = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    normal = np.cross(along_row, along_column)
    lps = np.eye(4)
    lps[:3, 0] = along_row * pixel_spacing[1]
    lps[:3, 1] = along_column * pixel_spacing[0]
    lps[:3, 2] = normal * slice_spacing
    lps[:3, 3] = np.asarray(position, float)
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def _slice_spacing(datasets: list[Dataset]) -> float | None:
    positions = np.array([_slice_position(ds) for ds in datasets])
    if len(positions) > 1:
        gaps = np.diff(positions)
        if np.all(gaps > 0):
            return float(np.median(gaps))
    value = datasets[0].get("SpacingBetweenSlices") or datasets[0].get("SliceThickness")
    try:
        return abs(float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None
