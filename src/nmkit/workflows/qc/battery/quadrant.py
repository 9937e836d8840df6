"""`QuadrantQC`: system resolution from a four-quadrant bar phantom by the moment-based MTF of Hander et al.
(Med Phys 1997; 24: 327-334), the method pylinac and NMQC use."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nmkit.errors import InputError
from nmkit.io import Image
from nmkit.workflows.qc.battery._image import (Analysis, Result, planar_counts, read_image, require_spacing,
                                               rounded)

HANDER_FWHM_FACTOR = 1.058  # Hander 1997 eq. A8: FWHM = 1.058 w sqrt(ln(1 / MTF)) for a Gaussian LSF
DIAGONALS = ((-1, -1), (-1, 1), (1, 1), (1, -1))  # (row, col) signs: top-left, top-right, bottom-right, bottom-left
MIN_BAR_MODULATION = 0.05  # below this in every quadrant the image shows no bars (a flood?)
BAR_WIDTH_TOLERANCE = 0.2  # the two coarsest patterns' measured bar widths must match the given ones this closely


def moment_mtf(mean: float, variance: float) -> float:
    """Hander 1997 eq. 8: the modulation of a bar pattern from the ROI's mean and variance, less Poisson noise."""
    excess = variance - mean
    return math.sqrt(2.0 * excess) / mean if excess > 0 and mean > 0 else 0.0


def moment_fwhm(bar_width_mm: float, mtf: float) -> float | None:
    """Hander 1997 eq. A8: the FWHM of a Gaussian line spread function that gives ``mtf`` at these bars."""
    return HANDER_FWHM_FACTOR * bar_width_mm * math.sqrt(math.log(1.0 / mtf)) if 0 < mtf < 1 else None


def bar_period_px(patch: np.ndarray) -> tuple[float, float]:
    """The dominant period (pixels) of a bar pattern and its direction (degrees) from the patch's spectrum peak."""
    n = min(patch.shape)
    patch = patch[:n, :n] - patch[:n, :n].mean()
    window = np.hanning(n)
    power = np.abs(np.fft.fftshift(np.fft.fft2(patch * np.outer(window, window)))) ** 2
    ky, kx = np.meshgrid(np.arange(n) - n // 2, np.arange(n) - n // 2, indexing="ij")
    power[np.hypot(ky, kx) < 3] = 0  # drop the mean and the slow trends
    peak = np.unravel_index(int(np.argmax(power)), power.shape)
    k = math.hypot(ky[peak], kx[peak])
    return n / k, math.degrees(math.atan2(ky[peak], kx[peak])) % 180.0


@dataclass
class Quadrant:
    """One quadrant's bars: the width given for it, its moment MTF and FWHM, and where it was sampled."""

    bar_width_mm: float
    mtf: float
    fwhm_mm: float | None
    measured_bar_width_mm: float
    bar_direction_deg: float
    mean_counts: float
    std_counts: float
    centre_row: float
    centre_col: float


@dataclass
class QuadrantResult(Result):
    """`nmkit qc quadrant`'s JSON keys; ``quadrants`` runs from the largest bars to the smallest."""

    file: str
    roi_radius_mm: float
    roi_distance_mm: float
    quadrants: list[dict] = field(default_factory=list)
    figure: str | None = None


class QuadrantQC(Analysis):
    """Analyse a four-quadrant bar image: ``QuadrantQC(path, bar_widths).analyze()``, then ``results()``,
    ``results_data()``, ``plot_analyzed_image(path)``.

    One disc ROI per quadrant (radius ``roi_radius_mm``, its centre ``roi_distance_mm`` from the image centre
    along a diagonal) gives the counts' mean and variance, hence the moment MTF and FWHM. Which bar width
    belongs to which quadrant is read from the image: the quadrant whose spectrum peaks at the lowest spatial
    frequency gets the widest bars, so the phantom may be placed in any orientation. The two coarsest patterns
    must measure within 20 % of their given widths (finer ones may be unresolved), else the image is refused.
    """

    def __init__(self, source: str | Path | Image | np.ndarray, bar_widths: list[float], roi_radius_mm: float = 70.0,
                 roi_distance_mm: float = 135.0, pixel_mm: float | None = None):
        if len(bar_widths) != 4 or min(bar_widths) <= 0:
            raise InputError("--bar-widths", f"needs four positive bar widths in mm, got {list(bar_widths)}")
        self.image = read_image(source, pixel_mm)
        self.counts = planar_counts(self.image, "quadrant")
        require_spacing(self.image, "quadrant")
        self.bar_widths = sorted((float(w) for w in bar_widths), reverse=True)
        self.roi_radius_mm, self.roi_distance_mm = float(roi_radius_mm), float(roi_distance_mm)

    def analyze(self) -> QuadrantQC:
        counts = self.counts
        row_mm, col_mm = self.image.pixel_spacing
        height, width = counts.shape
        centre_row, centre_col = (height - 1) / 2, (width - 1) / 2
        offset = self.roi_distance_mm / math.sqrt(2.0)
        rr, cc = np.ogrid[:height, :width]
        measured = []
        for sign_row, sign_col in DIAGONALS:
            row, col = centre_row + sign_row * offset / row_mm, centre_col + sign_col * offset / col_mm
            disc = ((rr - row) * row_mm) ** 2 + ((cc - col) * col_mm) ** 2 <= self.roi_radius_mm ** 2
            if not disc.any() or not (0 <= row < height and 0 <= col < width):
                raise InputError(self.image.path, f"is too small for quadrant ROIs {self.roi_distance_mm:g} mm "
                                                  "from its centre")
            values = counts[disc]
            rows, cols = np.nonzero(disc)
            period_px, direction = bar_period_px(counts[rows.min():rows.max() + 1, cols.min():cols.max() + 1])
            pixel_mm = abs(math.cos(math.radians(direction))) * col_mm + abs(math.sin(math.radians(direction))) * row_mm
            measured.append((period_px * pixel_mm / 2, direction, float(values.mean()), float(values.std()), row, col))
        measured.sort(key=lambda m: -m[0])
        self.quadrants = []
        for width_mm, (bar_mm, direction, mean, std, row, col) in zip(self.bar_widths, measured):
            mtf = moment_mtf(mean, std ** 2)
            self.quadrants.append(Quadrant(width_mm, round(mtf, 4), rounded(moment_fwhm(width_mm, mtf)),
                                           round(bar_mm, 3), round(direction, 1), round(mean, 3), round(std, 3),
                                           round(row, 1), round(col, 1)))
        coarse = self.quadrants[:2]
        if max(q.mtf for q in self.quadrants) < MIN_BAR_MODULATION or any(
                abs(q.measured_bar_width_mm - q.bar_width_mm) > BAR_WIDTH_TOLERANCE * q.bar_width_mm for q in coarse):
            found = ", ".join(f"{q.measured_bar_width_mm:.2f}" for q in coarse)
            raise InputError(self.image.path, f"shows no bars of the widths given in its quadrants (the two coarsest "
                                              f"patterns measure {found} mm; a flood, another phantom, or wrong "
                                              "--bar-widths?); quadrant needs a four-quadrant bar image")
        self._result = QuadrantResult(str(self.image.path), self.roi_radius_mm, self.roi_distance_mm,
                                      [vars(q).copy() for q in self.quadrants])
        return self

    def results(self) -> str:
        """A short human-readable summary."""
        r = self.results_data()
        lines = [f"{r.file}: four-quadrant bar resolution (moment MTF, Hander 1997)"]
        for q in r.quadrants:
            fwhm = "n/a" if q["fwhm_mm"] is None else f"{q['fwhm_mm']:.2f} mm"
            lines.append(f"  bars {q['bar_width_mm']:.2f} mm (measured {q['measured_bar_width_mm']:.2f}): "
                         f"MTF {q['mtf']:.3f}  FWHM {fwhm}")
        return self._summary(lines)

    def plot_analyzed_image(self, path: str | Path) -> Path:
        """The image with the four ROIs, and the MTF against spatial frequency; sets ``figure``."""
        from matplotlib.patches import Ellipse

        from nmkit.report.figures import plt

        r = self.results_data()
        row_mm, col_mm = self.image.pixel_spacing
        fig, (ax, ax_mtf) = plt.subplots(1, 2, figsize=(10, 4.4))
        ax.imshow(self.counts, cmap="gray")
        for q in self.quadrants:
            ax.add_patch(Ellipse((q.centre_col, q.centre_row), 2 * self.roi_radius_mm / col_mm,
                                 2 * self.roi_radius_mm / row_mm, fill=False, ec="yellow"))
            ax.annotate(f"{q.bar_width_mm:g} mm", (q.centre_col, q.centre_row), color="yellow", ha="center")
        ax.set(title=Path(r.file).name, xlabel="column (pixels)", ylabel="row (pixels)")
        frequency = [1 / (2 * q.bar_width_mm) for q in self.quadrants]
        ax_mtf.plot(frequency, [q.mtf for q in self.quadrants], "o-")
        ax_mtf.set(xlabel="spatial frequency (line pairs / mm)", ylabel="moment MTF", ylim=(0, 1),
                   title="MTF of the bar fundamental")
        return self._save(fig, path)
