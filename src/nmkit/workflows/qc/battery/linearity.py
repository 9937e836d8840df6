"""`LinearityQC`: intrinsic resolution and spatial linearity from a slit (line-grid) image, by the IAEA NMQC
method (line profiles in bins about 30 mm long, a Gaussian per line and bin); the line direction is read from
the image, not from the file's description."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import ConvexHull
from scipy.signal import find_peaks

from nmkit.errors import InputError
from nmkit.io import Image
from nmkit.workflows.qc.battery._image import (FWHM_PER_SIGMA, FWTM_PER_SIGMA, Analysis, Result, fit_gaussian,
                                               planar_counts, read_image, require_spacing, rounded, shown)

BIN_MM = 30.0  # NMQC: bins along the lines as long as the NEMA slit spacing
UFOV_SCALE, CFOV_SCALE = 0.95, 0.75  # NEMA NU 1: UFOV 95 % of the field's linear size; CFOV 75 % of the UFOV's
MIN_LINES = 3


@dataclass
class LinearityResult(Result):
    """`nmkit qc linearity`'s JSON keys (mm). ``direction`` is the linearity axis in NMQC's naming: "x" for
    horizontal lines (positions and widths measured along y), "y" for vertical lines."""

    file: str
    direction: str
    lines: str
    n_lines: int
    bin_mm: float
    ufov_fwhm_mm: float | None
    ufov_fwtm_mm: float | None
    ufov_worst_fwhm_mm: float | None
    ufov_absolute_linearity_mm: float | None
    ufov_differential_linearity_mm: float | None
    cfov_fwhm_mm: float | None
    cfov_fwtm_mm: float | None
    cfov_worst_fwhm_mm: float | None
    cfov_absolute_linearity_mm: float | None
    cfov_differential_linearity_mm: float | None
    figure: str | None = None


def hull_masks(bright: np.ndarray, scales: tuple[float, ...]) -> list[np.ndarray]:
    """The convex hull of the ``bright`` pixels, shrunk about its vertices' centroid by each of ``scales``."""
    points = np.argwhere(bright).astype(np.float64)
    vertices = points[ConvexHull(points).vertices]
    centre = vertices.mean(axis=0)
    return [convex_polygon_mask(bright.shape, centre + (vertices - centre) * scale) for scale in scales]


def convex_polygon_mask(shape: tuple[int, int], vertices: np.ndarray) -> np.ndarray:
    """Pixels inside a convex polygon of (row, col) vertices, filled row by row between its edges."""
    start, end = vertices, np.roll(vertices, -1, axis=0)
    rows = np.arange(shape[0], dtype=np.float64)[:, None]
    low, high = np.minimum(start[:, 0], end[:, 0]), np.maximum(start[:, 0], end[:, 0])
    crosses = (rows >= low) & (rows <= high) & (high > low)
    with np.errstate(divide="ignore", invalid="ignore"):
        col = start[:, 1] + (rows - start[:, 0]) * (end[:, 1] - start[:, 1]) / (end[:, 0] - start[:, 0])
    left = np.where(crosses, col, np.inf).min(axis=1, keepdims=True)
    right = np.where(crosses, col, -np.inf).max(axis=1, keepdims=True)
    cols = np.arange(shape[1], dtype=np.float64)[None, :]
    return (cols >= left) & (cols <= right)


class LinearityQC(Analysis):
    """Analyse a slit image: ``LinearityQC(path).analyze()``, then ``results()``, ``results_data()``,
    ``plot_analyzed_image(path)``.

    The lines run along the image axis whose projection varies least. The field is the convex hull of the
    pixels above 10 % of the maximum; the UFOV is it scaled by 0.95 about its vertices' centroid, the CFOV the UFOV scaled
    by 0.75. Along the lines the UFOV is cut into bins of about 30 mm; in each bin the counts are averaged into
    a profile across the lines, and every peak whose window (midpoint to midpoint) lies inside the UFOV gets a
    Gaussian-plus-constant fit: its centre is the line's position there, its sigma gives FWHM and FWTM. Per
    line, a straight line is fitted to the positions; absolute linearity is the largest deviation from it,
    differential linearity the largest per-line standard deviation of the deviations (NMQC's definitions).
    The CFOV figures use the samples whose position lies inside the CFOV.
    """

    def __init__(self, source: str | Path | Image | np.ndarray, bin_mm: float = BIN_MM, pixel_mm: float | None = None):
        self.image = read_image(source, pixel_mm)
        self.counts = planar_counts(self.image, "linearity")
        require_spacing(self.image, "linearity")
        self.bin_mm = float(bin_mm)

    def analyze(self) -> LinearityQC:
        counts = self.counts
        horizontal = np.std(counts.mean(axis=1)) > np.std(counts.mean(axis=0))
        data = counts if horizontal else counts.T  # lines run along axis 1 of ``data``
        across_mm, along_mm = self.image.pixel_spacing if horizontal else self.image.pixel_spacing[::-1]
        self.ufov, self.cfov = hull_masks(data > 0.1 * data.max(), (UFOV_SCALE, UFOV_SCALE * CFOV_SCALE))
        samples = self._samples(data, self.ufov, along_mm)
        if len(samples) == 0 or len(np.unique(samples[:, 0])) < MIN_LINES:
            raise InputError(self.image.path, f"shows fewer than {MIN_LINES} parallel lines (a flood or another "
                                              "phantom?); linearity needs a slit (line-grid) image")
        inside = self.cfov[np.round(samples[:, 2]).astype(int), np.round(samples[:, 1]).astype(int)]
        self.samples = samples  # line index, along (px), across position (px), sigma (px)
        self.horizontal = horizontal
        ufov = self._figures(samples, across_mm)
        cfov = self._figures(samples[inside], across_mm)
        self._result = LinearityResult(
            file=str(self.image.path), direction="x" if horizontal else "y",
            lines="horizontal" if horizontal else "vertical", n_lines=int(len(np.unique(samples[:, 0]))),
            bin_mm=self.bin_mm, **{f"ufov_{k}": v for k, v in ufov.items()}, **{f"cfov_{k}": v for k, v in cfov.items()})
        return self

    def _samples(self, data: np.ndarray, ufov: np.ndarray, along_mm: float) -> np.ndarray:
        """One row per (bin, line): line index, bin centre along the lines, fitted position, sigma (pixels)."""
        cols = np.flatnonzero(ufov.any(axis=0))
        n_bins = max(1, round((cols[-1] - cols[0] + 1) * along_mm / self.bin_mm))
        edges = np.linspace(cols[0], cols[-1] + 1, n_bins + 1).round().astype(int)
        rows_all = np.arange(data.shape[0], dtype=np.float64)
        found: list[tuple[float, float, float]] = []
        for start, stop in zip(edges[:-1], edges[1:]):
            centre = (start + stop - 1) / 2
            valid = np.flatnonzero(ufov[:, int(round(centre))])
            if len(valid) < 3:
                continue
            profile = data[:, start:stop].mean(axis=1)
            peaks, _ = find_peaks(profile, prominence=0.1 * profile.max(), distance=3)
            bounds = np.concatenate([[0], (peaks[:-1] + peaks[1:]) // 2, [len(profile)]])
            for peak, lo, hi in zip(peaks, bounds[:-1], bounds[1:]):
                window = profile[lo:hi]
                conformed = window[0] < 0.1 * window.max() and window[-1] < 0.1 * window.max()
                if not (conformed and valid[0] <= lo and hi - 1 <= valid[-1]):
                    continue
                fit = fit_gaussian(rows_all[lo:hi], window)
                if fit is not None:
                    found.append((centre, fit[1], fit[2]))
        if not found:
            return np.zeros((0, 4))
        found_arr = np.array(found)
        # Number the lines by position: a new line starts where sorted positions jump by more than a line width.
        order = np.argsort(found_arr[:, 1])
        gaps = np.diff(found_arr[order, 1]) > 4 * np.median(found_arr[:, 2])
        index = np.empty(len(found_arr))
        index[order] = np.concatenate([[0], np.cumsum(gaps)])
        return np.column_stack([index, found_arr])

    @staticmethod
    def _figures(samples: np.ndarray, across_mm: float) -> dict[str, float | None]:
        """Mean and worst FWHM, FWTM and the two linearities (mm) of these samples; None where there are none."""
        sigma_mm = samples[:, 3] * across_mm
        deviations, spreads = [], []
        for line in np.unique(samples[:, 0]):
            along, position = samples[samples[:, 0] == line, 1], samples[samples[:, 0] == line, 2]
            if len(along) < 3:
                continue
            residual = (position - np.polyval(np.polyfit(along, position, 1), along)) * across_mm
            deviations.append(np.abs(residual).max())
            spreads.append(residual.std())
        mean_sigma = sigma_mm.mean() if len(sigma_mm) else None
        return {"fwhm_mm": rounded(mean_sigma and FWHM_PER_SIGMA * mean_sigma),
                "fwtm_mm": rounded(mean_sigma and FWTM_PER_SIGMA * mean_sigma),
                "worst_fwhm_mm": rounded(FWHM_PER_SIGMA * sigma_mm.max() if len(sigma_mm) else None),
                "absolute_linearity_mm": rounded(max(deviations, default=None)),
                "differential_linearity_mm": rounded(max(spreads, default=None))}

    def results(self) -> str:
        """A short human-readable summary."""
        r = self.results_data()
        lines = [f"{r.file}: intrinsic resolution and linearity, {r.n_lines} {r.lines} lines (direction {r.direction})"]
        d = r.as_dict()
        for fov in ("ufov", "cfov"):
            lines.append(f"  {fov.upper()}: FWHM {shown(d[f'{fov}_fwhm_mm'])} mm (worst {shown(d[f'{fov}_worst_fwhm_mm'])})"
                         f"  FWTM {shown(d[f'{fov}_fwtm_mm'])} mm  absolute linearity "
                         f"{shown(d[f'{fov}_absolute_linearity_mm'], 3)} mm  differential "
                         f"{shown(d[f'{fov}_differential_linearity_mm'], 3)} mm")
        return self._summary(lines)

    def plot_analyzed_image(self, path: str | Path) -> Path:
        """The image with the UFOV and CFOV outlines and every fitted line position; sets ``figure``."""
        from nmkit.report.figures import plt

        r = self.results_data()
        ufov, cfov = (self.ufov, self.cfov) if self.horizontal else (self.ufov.T, self.cfov.T)
        along, across = self.samples[:, 1], self.samples[:, 2]
        x, y = (along, across) if self.horizontal else (across, along)
        fig, ax = plt.subplots(figsize=(6, 5.4))
        ax.imshow(self.counts, cmap="gray")
        ax.contour(ufov.astype(np.float32), levels=[0.5], colors=["yellow"], linewidths=1)
        ax.contour(cfov.astype(np.float32), levels=[0.5], colors=["orange"], linewidths=1)
        ax.plot(x, y, "c.", ms=3)
        ax.set(title=f"{Path(r.file).name}: UFOV abs. linearity {r.ufov_absolute_linearity_mm:.2f} mm",
               xlabel="column (pixels)", ylabel="row (pixels)")
        return self._save(fig, path)
