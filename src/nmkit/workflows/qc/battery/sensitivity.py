"""`SensitivityQC`: NEMA NU 1 planar system sensitivity of a source of known activity (pylinac-style).

sensitivity = (source rate - background rate) / (A_cal x decay_factor), where decay_factor is the mean fraction
of the calibrated activity present during the acquisition: exp(-lambda (t_start - t_cal)) x (1 - exp(-lambda T))
/ (lambda T). Without ``activity_time`` the activity is taken as measured at the acquisition start. A background
file may hold one frame per detector: a multi-head source uses each head's own background; a one-head source uses
the background head with the same collimator (DetectorInformationSequence CollimatorGridName), else the mean of
the background heads.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from nmkit.errors import InputError
from nmkit.io import Image
from nmkit.workflows.qc.battery._frames import Acquisition, FrameGroup, HeadAnalysis, as_acquisition
from nmkit.workflows.qc.battery.nuclides import DISPLAY, decay_constant, half_life_s, nuclide_key


@dataclass
class SensitivityResult:
    """One head and energy window of `nmkit qc sensitivity`; ``as_dict()`` has the stable JSON keys."""

    file: str
    detector: str
    energy_window: str
    nuclide: str
    half_life_s: float
    activity_mbq: float
    activity_time: str | None
    acquisition_start: str | None
    duration_s: float
    source_counts: float
    source_cps: float
    background_cps: float
    background: str
    decay_factor: float
    sensitivity_cps_per_mbq: float
    figure_png: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def decay_factor(half_life: float, duration_s: float, elapsed_s: float = 0.0) -> float:
    """Mean fraction of the activity at calibration present over an acquisition of ``duration_s`` that starts
    ``elapsed_s`` after calibration."""
    x = decay_constant(half_life) * duration_s
    mean = -math.expm1(-x) / x if x > 1e-12 else 1.0
    return math.exp(-decay_constant(half_life) * elapsed_s) * mean


def parse_time(text: str, day: datetime | None, source: str = "--activity-time") -> datetime:
    """An ISO date-time ('2012-10-02T16:00:00', '2012-10-02 16:00'), or a clock time on the acquisition day."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        pass
    for form in ("%H:%M:%S", "%H:%M", "%H%M%S"):
        try:
            clock = datetime.strptime(text.strip(), form)
        except ValueError:
            continue
        if day is None:
            raise InputError(source, f"{text!r} is a clock time, but the image does not say its acquisition date; "
                                     "give a date and time")
        return day.replace(hour=clock.hour, minute=clock.minute, second=clock.second, microsecond=0)
    raise InputError(source, f"{text!r} is not a date and time (use e.g. 2012-10-02T16:00:00 or 16:00)")


class SensitivityQC(HeadAnalysis):
    """Analyse one head and window of a sensitivity acquisition: ``SensitivityQC(path, activity_mbq=...,
    nuclide=...).analyze()``, then ``results()``, ``results_data()``, ``plot_analyzed_image(path)``.
    ``SensitivityQC.per_head(...)`` gives one per head and window. ``duration_s`` (per frame) is needed where the
    source does not say it (a numpy array)."""

    def __init__(self, source: str | Path | Image | np.ndarray | Acquisition, activity_mbq: float,
                 nuclide: str | None = None,
                 background: str | Path | Image | Acquisition | None = None, activity_time: str | None = None,
                 group: FrameGroup | None = None, half_life: float | None = None, duration_s: float | None = None,
                 pixel_mm: float | None = None):
        self.acquisition = acq = as_acquisition(source, pixel_mm)
        if not (np.isfinite(activity_mbq) and activity_mbq > 0):
            raise InputError("--activity-mbq", f"the activity must be a positive number of MBq, not {activity_mbq:g}")
        if half_life is None:
            if not nuclide:
                raise InputError("--nuclide", "name the nuclide (e.g. Tc-99m) or give its half-life")
            half_life = half_life_s(nuclide)
        elif not half_life > 0:
            raise InputError("--half-life-s", f"the half-life must be positive, not {half_life:g} s")
        group = self.only_group(acq, group)
        durations = acq.frame_durations_s() if duration_s is None else np.full(acq.n_frames, float(duration_s))
        if durations is None or not (durations > 0).all():
            raise acq.refuse("does not say how long it was acquired (no ActualFrameDuration or FrameTime); "
                             "give duration_s")
        self.background = None if background is None else as_acquisition(background)
        self.group, self.activity_mbq, self.half_life = group, float(activity_mbq), float(half_life)
        key = nuclide_key(nuclide) if nuclide else None
        self.nuclide = DISPLAY.get(key or "", nuclide or f"T1/2 {half_life:g} s")
        self.duration = float(durations[group.indices].sum())
        self.start = acq.acquired_at()
        self.activity_time = None if activity_time is None else parse_time(activity_time, self.start)
        if self.activity_time is not None and self.start is None:
            raise acq.refuse("does not say when it was acquired, so the activity cannot be decay-corrected to it")
        self._result: SensitivityResult | None = None

    @classmethod
    def per_head(cls, source: str | Path | Image | Acquisition, **options: Any) -> list[SensitivityQC]:
        if options.get("background") is not None:
            options["background"] = as_acquisition(options["background"])  # read once for every head
        return super().per_head(source, **options)

    def background_rate(self) -> tuple[float, str]:
        """(counts per second, which frames) of the background matching this head."""
        if self.background is None:
            return 0.0, "none"
        bg = self.background
        durations = bg.frame_durations_s()
        if durations is None:
            raise bg.refuse("does not say how long it was acquired (no ActualFrameDuration or FrameTime)")
        groups = [g for g in bg.groups() if g.energy_window == self.group.energy_window] or bg.groups()
        rates = {g.detector: float(g.frames.sum(dtype=np.float64) / durations[g.indices].sum()) for g in groups}
        if len(rates) == 1:
            head, rate = next(iter(rates.items()))
            return rate, f"{Path(str(bg.path)).name} head {head}"
        if len(self.acquisition.groups()) > 1 and self.group.detector in rates:
            return rates[self.group.detector], f"{Path(str(bg.path)).name} head {self.group.detector} (same head)"
        mine = _collimator(self.acquisition, self.group.detector)
        same = [head for head in rates if mine and _collimator(bg, head) == mine]
        if len(same) == 1:
            return rates[same[0]], f"{Path(str(bg.path)).name} head {same[0]} (same collimator {mine})"
        return float(np.mean(list(rates.values()))), f"{Path(str(bg.path)).name} mean of heads {', '.join(rates)}"

    def analyze(self) -> SensitivityQC:
        counts = float(self.group.frames.sum(dtype=np.float64))
        source_cps = counts / self.duration
        background_cps, which = self.background_rate()
        elapsed = 0.0 if self.activity_time is None else (self.start - self.activity_time).total_seconds()
        factor = decay_factor(self.half_life, self.duration, elapsed)
        self._result = SensitivityResult(
            file=str(self.acquisition.path), detector=self.group.detector, energy_window=self.group.energy_window,
            nuclide=self.nuclide, half_life_s=self.half_life, activity_mbq=self.activity_mbq,
            activity_time=None if self.activity_time is None else self.activity_time.isoformat(),
            acquisition_start=None if self.start is None else self.start.isoformat(), duration_s=self.duration,
            source_counts=counts, source_cps=round(source_cps, 4), background_cps=round(background_cps, 4),
            background=which, decay_factor=round(factor, 8),
            sensitivity_cps_per_mbq=round((source_cps - background_cps) / (self.activity_mbq * factor), 4))
        return self

    def summary(self, r) -> list[str]:
        """The lines of ``results()``."""
        lines = [f"{r.file} ({self.group.label}): sensitivity {r.sensitivity_cps_per_mbq:.2f} cps/MBq",
                 f"  source {r.source_cps:.1f} cps over {r.duration_s:g} s, background {r.background_cps:.2f} cps "
                 f"({r.background}), {r.activity_mbq:g} MBq {r.nuclide}, decay factor {r.decay_factor:.5f}"]
        return lines

    def plot_analyzed_image(self, path: str | Path) -> Path:
        """The summed source image with its rates in the title; also sets ``figure_png``."""
        from nmkit.report.figures import overlay_figure

        r = self.results_data()
        title = (f"{Path(r.file).name}, {self.group.label}: {r.sensitivity_cps_per_mbq:.1f} cps/MBq "
                 f"({r.source_cps:.0f} cps source, {r.background_cps:.1f} cps background)")
        overlay_figure(self.group.frames.sum(axis=0), None, path, title)
        r.figure_png = str(path)
        return Path(path)


def _collimator(acquisition: Acquisition, detector: str) -> str | None:
    item = acquisition.detector_item(detector)
    name = None if item is None else str(item.get("CollimatorGridName") or "").strip()
    return name or None
