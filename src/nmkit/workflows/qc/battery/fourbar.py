"""`FourBarQC`: system spatial resolution (FWHM, FWTM) and pixel size from a four-bar or two-line phantom
(NEMA NU 1 / IAEA NMQC "four-bar" and "two-line" tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import find_peaks

from nmkit.errors import InputError
from nmkit.io import Image
from nmkit.workflows.qc.battery._image import (FWHM_PER_SIGMA, FWTM_PER_SIGMA, Analysis, Result, fit_gaussian,
                                               planar_counts, read_image, rounded)

MIN_LINE_CONTRAST = 0.5  # (peak - background) / (peak + background) of a line source: a flood gives about 0.05


@dataclass
class LinePair:
    """The two lines crossed by one profile: their fitted centres (pixels) and widths (mm)."""

    axis: str
    positions: np.ndarray  # sample positions along the profile, pixels
    profile: np.ndarray
    fits: list[tuple[float, float, float, float]]  # (amplitude, centre px, sigma px, offset) per line
    fwhm_mm: float
    fwtm_mm: float
    pixel_mm: float


@dataclass
class FourBarResult(Result):
    """`nmkit qc fourbar`'s JSON keys; an axis without a pair of lines (a two-line phantom) has nulls."""

    file: str
    separation_mm: float
    x_fwhm_mm: float | None
    y_fwhm_mm: float | None
    x_fwtm_mm: float | None
    y_fwtm_mm: float | None
    x_pixel_mm: float | None
    y_pixel_mm: float | None
    header_pixel_mm: list[float] | None  # None where the file does not give its pixel size
    x_pixel_difference_pct: float | None
    y_pixel_difference_pct: float | None
    figure: str | None = None


class FourBarQC(Analysis):
    """Analyse a four-bar (or two-line) image: ``FourBarQC(path).analyze()``, then ``results()``,
    ``results_data()``, ``plot_analyzed_image(path)``.

    The phantom's centre is the middle of the extent (2nd to 98th percentile) of the pixels above a quarter of
    the 99.5th percentile. Through it, a band ``band_mm`` wide and twice ``separation_mm`` long is averaged into
    one profile per axis (rows for x, columns for y); each of the profile's two strongest peaks gets its own
    Gaussian-plus-constant fit on its half of the profile. FWHM and FWTM come from the fitted sigma and the
    header's pixel size (the measured one for a file without it, e.g. .npy); the measured pixel size is
    ``separation_mm`` over the distance between the fitted centres.
    """

    def __init__(self, source: str | Path | Image | np.ndarray, separation_mm: float = 100.0, band_mm: float = 10.0,
                 pixel_mm: float | None = None):
        if not separation_mm > 0 or not band_mm > 0:
            raise InputError("--separation-mm", "the line separation and the band width must be positive")
        self.image = read_image(source, pixel_mm)
        self.counts = planar_counts(self.image, "fourbar")
        self.separation_mm, self.band_mm = float(separation_mm), float(band_mm)
        self.pairs: dict[str, LinePair | None] = {}

    def analyze(self) -> FourBarQC:
        counts = self.counts
        rows, cols = np.nonzero(counts > 0.25 * np.percentile(counts, 99.5))
        self.centre = tuple(float(np.percentile(v, 2) + np.percentile(v, 98)) / 2 for v in (rows, cols))
        row_mm, col_mm = self.image.pixel_spacing
        self.header_known = bool(self.image.metadata.get("spacing_known", True))
        self.pairs = {"x": self._pair("x", counts, self.centre[0], self.centre[1], row_mm, col_mm),
                      "y": self._pair("y", counts.T, self.centre[1], self.centre[0], col_mm, row_mm)}
        if not any(self.pairs.values()):
            raise InputError(self.image.path, "shows no pair of line sources through its centre (a flood or "
                                              "another phantom?); fourbar needs a four-bar or two-line image")
        x, y = self.pairs["x"], self.pairs["y"]
        diff = {axis: None if p is None or not self.header_known else 100.0 * (p.pixel_mm - spacing) / spacing
                for axis, p, spacing in (("x", x, col_mm), ("y", y, row_mm))}
        self._result = FourBarResult(
            file=str(self.image.path), separation_mm=self.separation_mm,
            x_fwhm_mm=rounded(x and x.fwhm_mm), y_fwhm_mm=rounded(y and y.fwhm_mm),
            x_fwtm_mm=rounded(x and x.fwtm_mm), y_fwtm_mm=rounded(y and y.fwtm_mm),
            x_pixel_mm=rounded(x and x.pixel_mm, 4), y_pixel_mm=rounded(y and y.pixel_mm, 4),
            header_pixel_mm=[round(row_mm, 4), round(col_mm, 4)] if self.header_known else None,
            x_pixel_difference_pct=rounded(diff["x"], 2), y_pixel_difference_pct=rounded(diff["y"], 2))
        return self

    def _pair(self, axis: str, counts: np.ndarray, across: float, along: float, across_mm: float,
              along_mm: float) -> LinePair | None:
        """The two lines met by a band of rows around ``across``, sampled over the columns around ``along``."""
        half_band = max(1, round(self.band_mm / across_mm / 2))
        reach = round(self.separation_mm / along_mm)
        lo, hi = max(0, round(along) - reach), min(counts.shape[1], round(along) + reach + 1)
        band = counts[max(0, round(across) - half_band): round(across) + half_band + 1, lo:hi]
        profile = band.mean(axis=0)
        positions = np.arange(lo, hi, dtype=np.float64)
        background = float(np.percentile(profile, 20))
        peaks, _ = find_peaks(profile, distance=max(2, reach // 4), prominence=0.25 * (profile.max() - background))
        if len(peaks) < 2:
            return None
        peaks = np.sort(peaks[np.argsort(profile[peaks])[-2:]])
        if min(profile[peaks]) - background < MIN_LINE_CONTRAST * (min(profile[peaks]) + background):
            return None
        middle = (peaks[0] + peaks[1]) // 2
        fits = [fit_gaussian(positions[s], profile[s]) for s in (slice(0, middle), slice(middle, len(profile)))]
        if any(f is None for f in fits):
            return None
        pixel_mm = self.separation_mm / abs(fits[1][1] - fits[0][1])
        # Widths in the header's pixels (as NMQC and pylinac); in the measured ones where the file gives none.
        sigma_mm = np.mean([f[2] for f in fits]) * (along_mm if self.header_known else pixel_mm)
        return LinePair(axis, positions, profile, fits, fwhm_mm=FWHM_PER_SIGMA * sigma_mm,
                        fwtm_mm=FWTM_PER_SIGMA * sigma_mm, pixel_mm=pixel_mm)

    def results(self) -> str:
        """A short human-readable summary."""
        r = self.results_data()
        lines = [f"{r.file}: four-bar / two-line resolution (separation {r.separation_mm:g} mm)"]
        d = r.as_dict()
        for axis in ("x", "y"):
            if d[f"{axis}_fwhm_mm"] is None:
                lines.append(f"  {axis}: no pair of lines across this axis")
                continue
            versus = (f" ({d[f'{axis}_pixel_difference_pct']:+.2f} % vs header)" if r.header_pixel_mm
                      else " (the file gives none; widths use this one)")
            lines.append(f"  {axis}: FWHM {d[f'{axis}_fwhm_mm']:.2f} mm  FWTM {d[f'{axis}_fwtm_mm']:.2f} mm  "
                         f"pixel {d[f'{axis}_pixel_mm']:.4f} mm{versus}")
        return self._summary(lines)

    def plot_analyzed_image(self, path: str | Path) -> Path:
        """The image with the centre, and each axis' profile with its two fitted Gaussians; sets ``figure``."""
        from nmkit.report.figures import plt
        from nmkit.workflows.qc.battery._image import gaussian

        r = self.results_data()
        fig, axes = plt.subplots(1, 3, figsize=(13, 4))
        axes[0].imshow(self.counts, cmap="gray")
        axes[0].plot([self.centre[1]], [self.centre[0]], "c+", ms=14)
        axes[0].set(title=Path(r.file).name, xlabel="column (pixels)", ylabel="row (pixels)")
        for ax, (axis, pair) in zip(axes[1:], self.pairs.items()):
            if pair is None:
                ax.set(title=f"{axis}: no line pair")
                continue
            ax.plot(pair.positions, pair.profile, ".", label="counts")
            fine = np.linspace(pair.positions[0], pair.positions[-1], 20 * len(pair.positions))
            for amplitude, centre, sigma, offset in pair.fits:
                ax.plot(fine, [float(v) for v in gaussian(fine, amplitude, centre, sigma, offset)], "r-", lw=1)
            ax.set(title=f"{axis}: FWHM {pair.fwhm_mm:.2f} mm, pixel {pair.pixel_mm:.4f} mm",
                   xlabel=f"{'column' if axis == 'x' else 'row'} (pixels)", ylabel="mean counts per pixel")
        return self._save(fig, path)
