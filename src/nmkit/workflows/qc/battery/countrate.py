"""`CountRateQC`: NEMA NU 1 count-rate performance from a dynamic acquisition (pylinac-style).

The observed count rate of each frame is its counts over its duration (both from the DICOM). The maximum is
the highest frame. With a decaying source (``half_life_s`` given, NEMA's decaying-source method) the input rate
of every frame is the loss-free rate extrapolated from the low-rate end of the curve: the decay-corrected
observed rates of the late frames below ``tail_fraction`` of the maximum, fitted as a line against the observed
rate and taken at zero rate (first-order dead-time losses vanish there). The observed rate at 20 % loss is where
observed / input crosses 0.8, interpolated between frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nmkit.io import Image
from nmkit.workflows.qc.battery._frames import Acquisition, FrameGroup, HeadAnalysis, as_acquisition

STATIC_TYPES = ("STATIC", "WHOLE BODY", "GATED", "TOMO", "RECON TOMO", "RECON GATED TOMO", "GATED TOMO")
LOSS = 0.20


@dataclass
class CountRateResult:
    """One head and energy window of `nmkit qc countrate`; ``as_dict()`` has the stable JSON keys."""

    file: str
    detector: str
    energy_window: str
    n_frames: int
    frame_s: list[float]
    cps: list[float]
    max_cps: float
    max_frame: int  # 0-based, within this head's frames
    max_time_s: float
    half_life_s: float | None
    cps_at_20pct_loss: float | None
    input_cps_at_20pct_loss: float | None
    loss_note: str | None
    figure_png: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def extrapolated_input_rates(cps: np.ndarray, starts: np.ndarray, durations: np.ndarray, half_life: float,
                             tail_fraction: float = 0.25, min_tail: int = 3) -> tuple[np.ndarray | None, str | None]:
    """The loss-free input rate of every frame for a decaying source, or (None, why not)."""
    lam = np.log(2.0) / half_life
    x = lam * durations
    mean_decay = np.exp(-lam * starts) * np.where(x > 1e-12, -np.expm1(-x) / np.maximum(x, 1e-300), 1.0)
    peak = int(np.argmax(cps))
    tail = np.flatnonzero((np.arange(len(cps)) > peak) & (cps <= tail_fraction * cps[peak]))
    if len(tail) < min_tail:
        return None, (f"the curve has {len(tail)} frame(s) after its maximum below {tail_fraction:.0%} of it "
                      f"(needs {min_tail}) to extrapolate the loss-free input rate")
    corrected = cps[tail] / mean_decay[tail]
    _, rate_at_zero = np.polyfit(cps[tail], corrected, 1)
    if not rate_at_zero > 0:
        return None, "the decay-corrected low-rate frames do not extrapolate to a positive input rate"
    return rate_at_zero * mean_decay, None


def rate_at_loss(cps: np.ndarray, inputs: np.ndarray, loss: float = LOSS) -> tuple[float, float] | None:
    """(observed, input) rate where observed / input first falls to 1 - ``loss``, walking back from the last frame."""
    ratio = cps / inputs
    target = 1.0 - loss
    for j in range(len(cps) - 2, -1, -1):
        if ratio[j] <= target < ratio[j + 1]:
            w = (target - ratio[j]) / (ratio[j + 1] - ratio[j])
            return (float(cps[j] + w * (cps[j + 1] - cps[j])), float(inputs[j] + w * (inputs[j + 1] - inputs[j])))
    return None


class CountRateQC(HeadAnalysis):
    """Analyse one head and window of a dynamic acquisition: ``CountRateQC(path).analyze()``, then ``results()``,
    ``results_data()``, ``plot_analyzed_image(path)``. ``CountRateQC.per_head(path)`` gives one per head/window.

    ``source`` is a path, an Image or a numpy array of frames (with ``pixel_mm``); ``frame_s`` overrides the frame
    duration (needed where the source has none); ``half_life_s`` turns on the 20 %-loss analysis of a decaying
    source.
    """

    def __init__(self, source: str | Path | Image | np.ndarray | Acquisition, group: FrameGroup | None = None,
                 frame_s: float | None = None, half_life_s: float | None = None, pixel_mm: float | None = None):
        self.acquisition = acq = as_acquisition(source, pixel_mm)
        if acq.image_type in STATIC_TYPES:
            raise acq.refuse(f"is a {acq.image_type} image, not a dynamic acquisition; the count-rate test needs "
                             "a dynamic series of frames")
        group = self.only_group(acq, group)
        if len(group.indices) < 2:
            raise acq.refuse(f"has {len(group.indices)} frame for {group.label}; the count-rate test needs a dynamic "
                             "series of frames")
        if frame_s is not None and not frame_s > 0:
            raise acq.refuse(f"--frame-s must be positive, not {frame_s:g}")
        if half_life_s is not None and not half_life_s > 0:
            raise acq.refuse(f"the half-life must be positive, not {half_life_s:g} s")
        durations, starts = acq.frame_durations_s(), acq.frame_starts_s()
        if frame_s is not None:
            durations = np.full(acq.n_frames, float(frame_s))
            starts = np.zeros(acq.n_frames)
            starts[group.indices] = np.arange(len(group.indices)) * frame_s
        if durations is None or starts is None:
            raise acq.refuse("does not say how long its frames last (no ActualFrameDuration or FrameTime); "
                             "give --frame-s")
        self.group, self.half_life_s = group, half_life_s
        self.durations, self.starts = durations[group.indices], starts[group.indices] - starts[group.indices].min()
        self.inputs: np.ndarray | None = None
        self._result: CountRateResult | None = None

    def analyze(self) -> CountRateQC:
        cps = self.group.frames.reshape(len(self.group.indices), -1).sum(axis=1, dtype=np.float64) / self.durations
        self.cps = cps
        peak = int(np.argmax(cps))
        observed = input_rate = note = None
        if self.half_life_s is not None:
            self.inputs, note = extrapolated_input_rates(cps, self.starts, self.durations, self.half_life_s)
            if self.inputs is not None:
                found = rate_at_loss(cps, self.inputs)
                if found is None:
                    note = "the losses never reach 20 % on this curve"
                else:
                    observed, input_rate = found
        else:
            note = "give the half-life (--nuclide or --half-life-s) of a decaying source for the 20 % loss rate"
        self._result = CountRateResult(
            file=str(self.acquisition.path), detector=self.group.detector, energy_window=self.group.energy_window,
            n_frames=len(cps), frame_s=[round(float(d), 6) for d in self.durations],
            cps=[round(float(c), 3) for c in cps], max_cps=round(float(cps[peak]), 3), max_frame=peak,
            max_time_s=round(float(self.starts[peak]), 3), half_life_s=self.half_life_s,
            cps_at_20pct_loss=None if observed is None else round(observed, 3),
            input_cps_at_20pct_loss=None if input_rate is None else round(input_rate, 3), loss_note=note)
        return self

    def summary(self, r) -> list[str]:
        """The lines of ``results()``."""
        lines = [f"{r.file} ({self.group.label}): maximum count rate {r.max_cps:.0f} cps in frame {r.max_frame} "
                 f"(0-based, t = {r.max_time_s:g} s, {r.n_frames} frames)"]
        if r.cps_at_20pct_loss is not None:
            lines.append(f"  observed count rate at 20 % loss: {r.cps_at_20pct_loss:.0f} cps "
                         f"(input {r.input_cps_at_20pct_loss:.0f} cps)")
        elif r.loss_note:
            lines.append(f"  20 % loss rate: not computed ({r.loss_note})")
        return lines

    def plot_analyzed_image(self, path: str | Path) -> Path:
        """The count-rate curve (and input rate, when known) over time; also sets ``figure_png``."""
        import matplotlib.pyplot as plt

        from nmkit.report.figures import save_figure

        r = self.results_data()
        times = self.starts + self.durations / 2
        fig, ax = plt.subplots(figsize=(6.0, 3.8))
        ax.plot(times, self.cps / 1000, "o-", ms=3, lw=1.5, label="observed")
        if self.inputs is not None:
            ax.plot(times, self.inputs / 1000, ":", lw=1.5, label="input (extrapolated)")
        ax.plot([times[r.max_frame]], [r.max_cps / 1000], "rs", label=f"maximum {r.max_cps / 1000:.1f} kcps")
        if r.cps_at_20pct_loss is not None:
            ax.axhline(r.cps_at_20pct_loss / 1000, color="#a93226", ls="--", lw=1,
                       label=f"20 % loss {r.cps_at_20pct_loss / 1000:.1f} kcps")
        ax.set(xlabel="time from the first frame (s)", ylabel="count rate (kcps)",
               title=f"{Path(r.file).name}, {self.group.label}: count rate")
        ax.legend(fontsize=8)
        save_figure(fig, path)
        r.figure_png = str(path)
        return Path(path)
