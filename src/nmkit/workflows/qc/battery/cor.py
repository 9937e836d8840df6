"""`CenterOfRotationQC`: centre-of-rotation offset of a SPECT head from the projections of a point source.

In each projection the source's count-weighted centroid (border background subtracted) is found (x along the
detector's rows, y along the axis of rotation). Over the angles theta, x follows a + b cos(theta) + c sin(theta) (the point circles the
axis once per turn); the least-squares fit of that sinusoid, linear in a, b, c, gives the offset a - the matrix
centre. The x deviation is the largest residual from the fit, the y deviation the largest departure of y from
its mean (IAEA NMQC / TECDOC-602 method B; pylinac fits the same sinusoid with a free frequency).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nmkit.io import Image
from nmkit.workflows.qc.battery._frames import Acquisition, FrameGroup, HeadAnalysis, as_acquisition


@dataclass
class CenterOfRotationResult:
    """One head and energy window of `nmkit qc cor`; ``as_dict()`` has the stable JSON keys."""

    file: str
    detector: str
    energy_window: str
    n_projections: int
    arc_deg: float
    pixel_mm: float
    offset_mm: float  # fitted rotation axis minus the matrix centre, along the rows
    offset_px: float
    x_deviation_mm: float
    y_deviation_mm: float
    radius_mm: float
    figure_png: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def weighted_centroids(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) count-weighted centroids (column, row) in pixels of each frame and (n,) total weights, the median of
    each frame's border pixels (the background around a point source) subtracted first; a threshold would bias the
    centroid with the source's sub-pixel position. A frame with nothing above its border has centroid NaN.

    One pass per frame through a reused buffer, max(frame, background), whose float64 row and column sums less the
    background give the profiles of max(frame - background, 0): no copy of the stack, nothing lost to float32."""
    n, rows, cols = frames.shape
    border = np.concatenate([frames[:, 0], frames[:, -1], frames[:, 1:-1, 0], frames[:, 1:-1, -1]], axis=1)
    backgrounds = np.median(border, axis=1)
    col_index, row_index = np.arange(cols), np.arange(rows)
    out, totals = np.full((n, 2), np.nan), np.zeros(n)
    clipped = np.empty((rows, cols), dtype=np.result_type(frames.dtype, np.float32))
    for i in range(n):
        np.maximum(frames[i], backgrounds[i], out=clipped, casting="unsafe")
        background = float(backgrounds[i])
        column_profile = clipped.sum(axis=0, dtype=np.float64) - rows * background
        totals[i] = column_profile.sum()
        if totals[i] > 0:
            row_profile = clipped.sum(axis=1, dtype=np.float64) - cols * background
            out[i] = (column_profile @ col_index / totals[i], row_profile @ row_index / totals[i])
    return out, totals


def fit_sinusoid(angles_deg: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a, b, c) of x = a + b cos + c sin by least squares, and the fitted values."""
    theta = np.radians(angles_deg)
    design = np.stack([np.ones_like(theta), np.cos(theta), np.sin(theta)], axis=1)
    coef, *_ = np.linalg.lstsq(design, x, rcond=None)
    return coef, design @ coef


class CenterOfRotationQC(HeadAnalysis):
    """Analyse the projections of one head: ``CenterOfRotationQC(path).analyze()``, then ``results()``,
    ``results_data()``, ``plot_analyzed_image(path)``. ``CenterOfRotationQC.per_head(path)`` gives one per head.
    ``source`` is a path, an Image or a numpy array of projections (with ``pixel_mm``); ``angles_deg`` overrides
    the angles (needed where the source does not give them)."""

    def __init__(self, source: str | Path | Image | np.ndarray | Acquisition, group: FrameGroup | None = None,
                 angles_deg: np.ndarray | None = None, pixel_mm: float | None = None):
        self.acquisition = acq = as_acquisition(source, pixel_mm)
        if acq.image_type.startswith("RECON"):
            raise acq.refuse("is a reconstructed SPECT volume; the centre-of-rotation test needs the projections")
        group = self.only_group(acq, group)
        angles = acq.angles_deg() if angles_deg is None else np.asarray(angles_deg, dtype=np.float64)
        if angles is None:
            raise acq.refuse("does not give its projection angles (RotationInformationSequence and "
                             "AngularViewVector); is it a SPECT (TOMO) acquisition?")
        if len(angles) != acq.n_frames:
            raise acq.refuse(f"has {acq.n_frames} frames but {len(angles)} angles were given")
        self.angles = angles[group.indices]
        if len(self.angles) < 8 or np.ptp(self.angles) < 90:
            raise acq.refuse(f"{group.label} has {len(self.angles)} projections over {np.ptp(self.angles):g} degrees; "
                             "the centre-of-rotation fit needs at least 8 over 90 degrees or more")
        self.group = group
        self.pixel_mm = acq.image.pixel_spacing
        self._result: CenterOfRotationResult | None = None

    def analyze(self) -> CenterOfRotationQC:
        row_mm, col_mm = self.pixel_mm
        cols = self.group.frames.shape[2]
        centroids, totals = weighted_centroids(self.group.frames)
        if not np.all(totals > 0):
            empty = int(np.flatnonzero(totals <= 0)[0])
            raise self.acquisition.refuse(f"{self.group.label}: projection {empty} (0-based) has no counts above its "
                                          "border; is there a point source in view?")
        self.x_mm = centroids[:, 0] * col_mm
        self.y_mm = centroids[:, 1] * row_mm
        coef, self.fitted = fit_sinusoid(self.angles, self.x_mm)
        offset_mm = coef[0] - (cols - 1) / 2 * col_mm
        self.x_residual = self.x_mm - self.fitted
        self.y_residual = self.y_mm - self.y_mm.mean()
        self._result = CenterOfRotationResult(
            file=str(self.acquisition.path), detector=self.group.detector, energy_window=self.group.energy_window,
            n_projections=len(self.angles), arc_deg=round(float(np.ptp(self.angles)), 3), pixel_mm=col_mm,
            offset_mm=round(float(offset_mm), 4), offset_px=round(float(offset_mm / col_mm), 4),
            x_deviation_mm=round(float(np.abs(self.x_residual).max()), 4),
            y_deviation_mm=round(float(np.abs(self.y_residual).max()), 4),
            radius_mm=round(float(np.hypot(coef[1], coef[2])), 3))
        return self

    def summary(self, r) -> list[str]:
        """The lines of ``results()``."""
        lines = [f"{r.file} ({self.group.label}): centre-of-rotation offset {r.offset_mm:+.2f} mm "
                 f"({r.offset_px:+.2f} pixels)",
                 f"  x deviation {r.x_deviation_mm:.2f} mm, y deviation {r.y_deviation_mm:.2f} mm over "
                 f"{r.n_projections} projections ({r.arc_deg:g} degrees)"]
        return lines

    def plot_analyzed_image(self, path: str | Path) -> Path:
        """The x centroids with their sinusoid, and the x and y residuals, against angle; sets ``figure_png``."""
        import matplotlib.pyplot as plt

        from nmkit.report.figures import save_figure

        r = self.results_data()
        order = np.argsort(self.angles)
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.0, 5.2), sharex=True)
        top.plot(self.angles, self.x_mm, "o", ms=3, label="x centroid")
        top.plot(self.angles[order], self.fitted[order], "-", lw=1.2, label="sinusoid fit")
        top.set(ylabel="x (mm)", title=f"{Path(r.file).name}, {self.group.label}: COR offset {r.offset_mm:+.2f} mm")
        top.legend(fontsize=8)
        bottom.plot(self.angles[order], self.x_residual[order], "o-", ms=3, label="x residual")
        bottom.plot(self.angles[order], self.y_residual[order], "s--", ms=3, label="y - mean")
        bottom.axhline(0, color="grey", lw=0.8)
        bottom.set(xlabel="gantry angle (degrees)", ylabel="deviation (mm)")
        bottom.legend(fontsize=8)
        save_figure(fig, path)
        r.figure_png = str(path)
        return Path(path)
