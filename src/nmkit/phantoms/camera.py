"""Gamma-camera QC acquisitions with known truth, written as the NM DICOM a camera writes: a decaying source seen
by a paralysable detector (count rate), a source of known activity (sensitivity) and a point source circling the
axis of rotation at a known centre-of-rotation offset (SPECT projections of one or two heads)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from scipy.special import erf

from nmkit.io.dicom_write import write_nm_dicom


def _spread(total: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Each frame's integer total spread evenly over the pixels (exact totals, no noise)."""
    n_pixels = shape[0] * shape[1]
    total = np.rint(total).astype(np.int64)
    base, extra = np.divmod(total, n_pixels)
    frames = np.repeat(base[:, None], n_pixels, axis=1)
    frames += np.arange(n_pixels)[None, :] < extra[:, None]
    return frames.reshape(len(total), *shape).astype(np.float64)


@dataclass
class CountRateTruth:
    dead_time_s: float
    frame_cps: np.ndarray  # each frame's mean observed rate
    max_cps_instant: float  # 1 / (e tau), the paralysable peak
    cps_at_20pct_loss: float  # 0.8 x ln(1/0.8) / tau


def decaying_source_series(dead_time_s: float = 2e-6, half_life_s: float = 100.0, frame_s: float = 10.0,
                           n_frames: int = 80, start_input_cps: float | None = None,
                           shape: tuple[int, int] = (32, 32)) -> tuple[np.ndarray, CountRateTruth]:
    """Frames of a decaying source on a paralysable detector: observed = input x exp(-input x tau)."""
    start = 4.0 / dead_time_s if start_input_cps is None else start_input_cps
    lam = np.log(2.0) / half_life_s
    steps = 200
    t = (np.arange(n_frames)[:, None] + (np.arange(steps)[None, :] + 0.5) / steps) * frame_s
    inputs = start * np.exp(-lam * t)
    frame_cps = (inputs * np.exp(-inputs * dead_time_s)).mean(axis=1)
    frames = _spread(frame_cps * frame_s, shape)
    truth = CountRateTruth(dead_time_s, frames.reshape(n_frames, -1).sum(axis=1) / frame_s,
                           1.0 / (np.e * dead_time_s), 0.8 * np.log(1 / 0.8) / dead_time_s)
    return frames, truth


def write_dynamic(path: str | Path, frames: np.ndarray, frame_s: float, pixel_mm: float = 4.0,
                  detectors: int = 1) -> Path:
    """A DYNAMIC NM file: one phase of equal frames (Mediso-style PhaseInformationSequence); frames of several
    heads interleave frame by frame."""
    n = len(frames)
    ms = round(frame_s * 1000)
    phase = _item(ActualFrameDuration=ms, NumberOfFramesInPhase=n // detectors, PhaseDelay=0, PauseBetweenFrames=0)
    extra = {"ImageType": ["ORIGINAL", "PRIMARY", "DYNAMIC", "EMISSION"], "NumberOfPhases": 1,
             "PhaseInformationSequence": [phase], "PhaseVector": [1] * n,
             "NumberOfDetectors": detectors, "DetectorVector": [i % detectors + 1 for i in range(n)],
             "DetectorInformationSequence": [_item(DetectorID=str(d + 1)) for d in range(detectors)],
             "TimeSliceVector": [i // detectors + 1 for i in range(n)], "StationName": "CAMERA1",
             "DeviceSerialNumber": "SN-1"}
    return write_nm_dicom(path, frames, (pixel_mm, pixel_mm), series_description="count rate", extra=extra)


def sensitivity_source(counts: float, shape: tuple[int, int] = (64, 64), radius_px: float = 10.0) -> np.ndarray:
    """A disc source holding exactly ``counts`` counts (rounded) in the middle of the field."""
    rows, cols = np.indices(shape)
    disc = np.hypot(rows - (shape[0] - 1) / 2, cols - (shape[1] - 1) / 2) <= radius_px
    image = np.zeros(shape)
    total = int(round(counts))
    base, extra = divmod(total, int(disc.sum()))
    image[disc] = base
    image[tuple(np.argwhere(disc)[:extra].T)] += 1
    return image


def write_static(path: str | Path, frames: np.ndarray, duration_s: float, acquired: str = "20240102 100000",
                 pixel_mm: float = 4.0, collimators: list[str] | None = None) -> Path:
    """A STATIC NM file of one frame per head, ActualFrameDuration and acquisition date and time set."""
    frames = np.asarray(frames)
    frames = frames[None] if frames.ndim == 2 else frames
    n = len(frames)
    date, clock = acquired.split()
    heads = [_item(DetectorID=str(d + 1), CollimatorGridName=(collimators or [""] * n)[d]) for d in range(n)]
    extra = {"ActualFrameDuration": round(duration_s * 1000), "AcquisitionDate": date, "AcquisitionTime": clock,
             "NumberOfDetectors": n, "DetectorVector": list(range(1, n + 1)), "DetectorInformationSequence": heads,
             "StationName": "CAMERA1", "DeviceSerialNumber": "SN-1"}
    return write_nm_dicom(path, frames, (pixel_mm, pixel_mm), series_description="sensitivity", extra=extra)


def point_source_projections(n_views: int = 64, arc_deg: float = 360.0, offsets_mm: tuple[float, ...] = (2.0,),
                             radius_mm: float = 60.0, phase_deg: float = 30.0, axial_mm: float = 5.0,
                             pixel_mm: float = 4.0, size: int = 64, fwhm_mm: float = 10.0, peak_counts: float = 2000.0,
                             seed: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SPECT projections of a point source: (frames, angles in degrees, detector number), head by head; head h
    starts at 360 / heads x h degrees and sees the axis displaced by ``offsets_mm[h]`` along its rows. Poisson
    noise when ``seed`` is given, else the expected counts."""
    heads = len(offsets_mm)
    step = arc_deg / n_views
    sigma = fwhm_mm / (2 * np.sqrt(2 * np.log(2)))
    edges = (np.arange(size + 1) - size / 2) * pixel_mm  # pixel edges in mm from the matrix centre
    frames, angles, detector = [], [], []
    for head, offset in enumerate(offsets_mm):
        for view in range(n_views):
            angle = 360.0 / heads * head + view * step
            x = radius_mm * np.cos(np.radians(angle - phase_deg)) + offset
            profile_x = np.diff(erf((edges - x) / (np.sqrt(2) * sigma))) / 2
            profile_y = np.diff(erf((edges - axial_mm) / (np.sqrt(2) * sigma))) / 2
            frames.append(peak_counts / (profile_x.max() * profile_y.max()) * np.outer(profile_y, profile_x))
            angles.append(angle)
            detector.append(head + 1)
    array = np.stack(frames)
    if seed is not None:
        array = np.random.default_rng(seed).poisson(array).astype(np.float64)
    return array, np.array(angles), np.array(detector)


def write_projections(path: str | Path, frames: np.ndarray, n_views: int, arc_deg: float, heads: int = 1,
                      pixel_mm: float = 4.0) -> Path:
    """A TOMO NM file as a camera writes it: one counter-clockwise rotation, heads one after the other, each with
    its start angle (as :func:`point_source_projections` makes them)."""
    step = arc_deg / n_views
    rotation = _item(StartAngle=0.0, AngularStep=step, RotationDirection="CC",
                     NumberOfFramesInRotation=n_views, ScanArc=arc_deg, RadialPosition=200.0)
    extra = {"ImageType": ["ORIGINAL", "PRIMARY", "TOMO", "EMISSION"], "NumberOfRotations": 1,
             "RotationInformationSequence": [rotation], "RotationVector": [1] * len(frames),
             "AngularViewVector": [v + 1 for _ in range(heads) for v in range(n_views)],
             "NumberOfDetectors": heads, "DetectorVector": [h + 1 for h in range(heads) for _ in range(n_views)],
             "DetectorInformationSequence": [_item(DetectorID=str(h + 1), StartAngle=360.0 / heads * h)
                                             for h in range(heads)],
             "StationName": "CAMERA1", "DeviceSerialNumber": "SN-1"}
    return write_nm_dicom(path, frames, (pixel_mm, pixel_mm), series_description="COR", extra=extra)


def _item(**keywords) -> Dataset:
    item = Dataset()
    for keyword, value in keywords.items():
        setattr(item, keyword, value)
    return item
