"""A QC acquisition split the way the DICOM says it was acquired: one frame group per detector (head) and energy
window, with each frame's duration, start time and gantry angle from the NM Multi-frame and Detector modules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from nmkit.errors import InputError
from nmkit.io import Image
from nmkit.io.image import as_image
from nmkit.io.dicom import read_dicom_dataset


@dataclass
class FrameGroup:
    """The frames of one detector and energy window: ``indices`` are their 0-based positions in the file."""

    detector: str
    energy_window: str
    indices: np.ndarray
    frames: np.ndarray  # (n, H, W) counts

    @property
    def label(self) -> str:
        return f"head {self.detector}, window {self.energy_window}"

    @property
    def tag(self) -> str:
        """'head2', or 'head2.window3' in a file of several energy windows: for output file names."""
        window = self.energy_window.split(":")[0]
        return f"head{self.detector}" + (f".window{window}" if ":" in self.energy_window else "")


class Acquisition:
    """An image (a path, an Image, or a numpy array of frames with ``pixel_mm``) plus its DICOM header (None for
    other sources), read once; ``header_path`` names the file to read the header from when ``source`` is an
    already-loaded Image (the web server's upload)."""

    def __init__(self, source: str | Path | Image | np.ndarray, header_path: str | Path | None = None,
                 pixel_mm: float | tuple[float, float] | None = None):
        self.image = as_image(source, pixel_mm)
        if self.image.path is None:
            self.image.path = Path("image")
        self.path = self.image.path
        header_file = Path(header_path) if header_path else self.image.path
        self.header: Dataset | None = None
        self._groups: list[FrameGroup] | None = None
        if self.image.metadata.get("format") == "dicom" and header_file.is_file():
            self.header = read_dicom_dataset(header_file, stop_before_pixels=True)

    @property
    def n_frames(self) -> int:
        return self.image.n_frames

    @property
    def image_type(self) -> str:
        """The third value of ImageType (STATIC, DYNAMIC, GATED, WHOLE BODY, TOMO, RECON TOMO ...), or ''."""
        values = [str(v).upper() for v in self.image.metadata.get("image_type") or []]
        return values[2] if len(values) > 2 else ""

    def vector(self, keyword: str) -> np.ndarray | None:
        """An NM frame vector (DetectorVector, EnergyWindowVector, ...) as ints; None when absent or mis-sized."""
        value = None if self.header is None else self.header.get(keyword)
        if value is None:
            return None
        values = np.atleast_1d(np.asarray(value if not isinstance(value, (int, float)) else [value], dtype=np.int64))
        return values if len(values) == self.n_frames else None

    def window_names(self) -> dict[int, str]:
        """Energy window number -> its name (EnergyWindowName, else the lower-upper keV range)."""
        names = {}
        for number, item in enumerate((self.header or {}).get("EnergyWindowInformationSequence") or [], start=1):
            name = str(item.get("EnergyWindowName") or "").strip()
            ranges = item.get("EnergyWindowRangeSequence") or []
            if not name and ranges:
                name = f"{float(ranges[0].EnergyWindowLowerLimit):g}-{float(ranges[0].EnergyWindowUpperLimit):g} keV"
            names[number] = name or str(number)
        return names

    def groups(self) -> list[FrameGroup]:
        """One group per (detector, energy window), in order of first appearance (made once)."""
        if self._groups is None:
            self._groups = self._split()
        return self._groups

    def _split(self) -> list[FrameGroup]:
        ones = np.ones(self.n_frames, dtype=np.int64)
        detectors = self.vector("DetectorVector")
        windows = self.vector("EnergyWindowVector")
        detectors = ones if detectors is None else detectors
        windows = ones if windows is None else windows
        names = self.window_names()
        several_windows = len(set(windows.tolist())) > 1
        out = []
        for detector, window in dict.fromkeys(zip(detectors.tolist(), windows.tolist())):
            indices = np.flatnonzero((detectors == detector) & (windows == window))
            label = f"{window}: {names[window]}" if several_windows and window in names else str(window)
            run = indices[0] + len(indices) - 1 == indices[-1]  # consecutive frames: a view, not a copy
            frames = self.image.array[indices[0]:indices[-1] + 1] if run else self.image.array[indices]
            out.append(FrameGroup(str(detector), label, indices, frames))
        return out

    def frame_durations_s(self) -> np.ndarray | None:
        """Each frame's duration in s: per phase (PhaseInformationSequence), else ActualFrameDuration or FrameTime."""
        timing = self._phase_timing()
        if timing is not None:
            return timing[1]
        ms = _number(self.header, "ActualFrameDuration") or _number(self.header, "FrameTime")
        return None if ms is None or ms <= 0 else np.full(self.n_frames, ms / 1000.0)

    def frame_starts_s(self) -> np.ndarray | None:
        """Each frame's start in s after the acquisition start (phases, delays and pauses counted)."""
        timing = self._phase_timing()
        if timing is not None:
            return timing[0]
        durations = self.frame_durations_s()
        if durations is None:
            return None
        slices = self.vector("TimeSliceVector")
        if slices is not None:
            return (slices - 1) * durations
        position = np.zeros(self.n_frames)  # frames of different heads and windows are simultaneous
        for group in self.groups():
            position[group.indices] = np.arange(len(group.indices))
        return position * durations

    def _phase_timing(self) -> tuple[np.ndarray, np.ndarray] | None:
        phases = list((self.header or {}).get("PhaseInformationSequence") or [])
        if not phases:
            return None
        phase_of = self.vector("PhaseVector")
        slices = self.vector("TimeSliceVector")
        phase_of = np.ones(self.n_frames, dtype=np.int64) if phase_of is None else phase_of
        slices = np.arange(1, self.n_frames + 1) if slices is None else slices
        starts, durations = np.zeros(self.n_frames), np.zeros(self.n_frames)
        clock = 0.0
        for number, item in enumerate(phases, start=1):
            duration = (_number(item, "ActualFrameDuration") or 0.0) / 1000.0
            pause = (_number(item, "PauseBetweenFrames") or 0.0) / 1000.0
            clock += (_number(item, "PhaseDelay") or 0.0) / 1000.0
            mine = phase_of == number
            if duration <= 0 and mine.any():
                return None
            if mine.any():  # time slices count from 1 in each phase, or on from the previous phase
                starts[mine] = clock + (slices[mine] - slices[mine].min()) * (duration + pause)
                durations[mine] = duration
            count = int(_number(item, "NumberOfFramesInPhase") or mine.sum() or 0)
            clock += count * (duration + pause)
        return (starts, durations) if (durations > 0).all() else None

    def angles_deg(self) -> np.ndarray | None:
        """Each projection's gantry angle in degrees (TOMO): the head's start angle plus the angular step times the
        view number, negative steps for clockwise rotation; None when the file does not say."""
        rotations = list((self.header or {}).get("RotationInformationSequence") or [])
        views = self.vector("AngularViewVector")
        if not rotations or views is None:
            return None
        rotation_of = self.vector("RotationVector")
        detectors = self.vector("DetectorVector")
        heads = list((self.header or {}).get("DetectorInformationSequence") or [])
        angles = np.zeros(self.n_frames)
        for i in range(self.n_frames):
            rotation = rotations[(int(rotation_of[i]) - 1) if rotation_of is not None else 0]
            step = _number(rotation, "AngularStep")
            if step is None:
                return None
            sign = -1.0 if str(rotation.get("RotationDirection", "CC")).upper() == "CW" else 1.0
            head = heads[int(detectors[i]) - 1] if detectors is not None and len(heads) >= detectors[i] else None
            start = _number(head, "StartAngle") if head is not None else None
            start = _number(rotation, "StartAngle") if start is None else start
            angles[i] = (start or 0.0) + sign * (int(views[i]) - 1) * step
        return angles

    def acquired_at(self) -> datetime | None:
        """AcquisitionDate + AcquisitionTime (else the content, series or study date and time)."""
        from nmkit.workflows.qc.history import acquisition_time

        return acquisition_time(self.image.metadata)

    def detector_item(self, detector: str) -> Dataset | None:
        """The DetectorInformationSequence item of ``detector`` (1-based number as text), None when absent."""
        heads = list((self.header or {}).get("DetectorInformationSequence") or [])
        index = int(detector) - 1 if detector.isdigit() else -1
        return heads[index] if 0 <= index < len(heads) else None

    def refuse(self, problem: str) -> InputError:
        return InputError(self.path, problem)


def _number(holder: Dataset | None, keyword: str) -> float | None:
    if holder is None:
        return None
    value = holder.get(keyword)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def head_images(source: str | Path | Image, header_path: str | Path | None = None) -> list[tuple[FrameGroup, Image]]:
    """One planar image per head and energy window of a file that holds several (a dual-head or multi-window
    flood), each group's frames summed and its ``detector_ids`` set to that head (and window, where several);
    an empty list for a file of one head and window."""
    acquisition = Acquisition(source, header_path)
    groups = acquisition.groups()
    if len(groups) < 2:
        return []
    several_windows = len({g.energy_window for g in groups}) > 1
    out = []
    for group in groups:
        head = group.detector + (f" / window {group.energy_window}" if several_windows else "")
        image = acquisition.image
        out.append((group, Image(group.frames.sum(axis=0), image.pixel_spacing, image.modality,
                                 dict(image.metadata) | {"detector_ids": [head], "n_frames": 1}, image.path)))
    return out


class HeadAnalysis:
    """What the battery's analysis classes share: each analyses one head and energy window of an
    :class:`Acquisition`; ``per_head`` makes one per head and window; ``results_data`` after ``analyze``."""

    _result = None

    @classmethod
    def per_head(cls, source: str | Path | Image | Acquisition, **options):
        acquisition = as_acquisition(source)
        return [cls(acquisition, group=group, **options) for group in acquisition.groups()]

    @classmethod
    def only_group(cls, acquisition: Acquisition, group: FrameGroup | None) -> FrameGroup:
        """``group``, or the file's only head and window (InputError when it holds several)."""
        if group is not None:
            return group
        groups = acquisition.groups()
        if len(groups) > 1:
            raise acquisition.refuse(f"holds {len(groups)} heads or energy windows; use {cls.__name__}.per_head")
        return groups[0]

    def results_data(self):
        """The results as a dataclass (``.as_dict()`` for JSON)."""
        if self._result is None:
            raise RuntimeError("call analyze() first")
        return self._result

    def results(self) -> str:
        """A short human-readable summary: the test's ``summary()`` lines, then the figure's path once drawn."""
        r = self.results_data()
        return "\n".join(self.summary(r) + ([f"  figure: {r.figure_png}"] if r.figure_png else []))

    def summary(self, result) -> list[str]:
        raise NotImplementedError


def as_acquisition(source: str | Path | Image | np.ndarray | Acquisition,
                   pixel_mm: float | tuple[float, float] | None = None) -> Acquisition:
    return source if isinstance(source, Acquisition) else Acquisition(source, pixel_mm=pixel_mm)
