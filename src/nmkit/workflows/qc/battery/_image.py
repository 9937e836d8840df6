"""What the battery's tests share: reading a planar image or a SPECT volume with its pixel size, fitting a
line-spread profile, and the results plumbing (``as_dict``, ``results_data``)."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import curve_fit

from nmkit.errors import InputError
from nmkit.io import Image
from nmkit.io.image import as_image

FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
FWTM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(10.0))
NOT_PLANAR_TYPES = ("DYNAMIC", "GATED", "TOMO", "RECON")


def read_image(source: str | Path | Image | np.ndarray, pixel_mm: float | tuple[float, float] | None = None) -> Image:
    """An :class:`Image` from a path (any format nmkit reads), an Image, or a numpy array with its pixel size."""
    image = as_image(source, pixel_mm)
    if image.path is None:
        image.path = Path("image")
    return image


def planar_counts(image: Image, test: str) -> np.ndarray:
    """The one 2-D frame of a planar image as float64 counts; InputError for a volume, dynamic or gated study."""
    kinds = [word for t in image.metadata.get("image_type") or [] for word in t.upper().split()
             if word in NOT_PLANAR_TYPES]
    if image.n_frames != 1 or kinds:
        what = {"DYNAMIC": "a dynamic study", "GATED": "a gated study"}.get(kinds[0], "a tomographic study") \
            if kinds else "a study"
        raise InputError(image.path, f"is {what} of {image.n_frames} frames; {test} needs one planar image")
    counts = image.array[0].astype(np.float64)
    if not np.isfinite(counts).all() or counts.min() < 0 or counts.max() <= 0:
        raise InputError(image.path, f"holds no counts (empty, negative or non-finite pixels); {test} needs counts")
    return counts


def require_spacing(image: Image, test: str) -> None:
    """InputError when the file does not give its pixel size (e.g. .npy), which ``test`` needs in mm."""
    if not image.metadata.get("spacing_known", True):
        raise InputError(image.path, f"does not give its pixel size; {test} measures in mm, so it needs a file "
                                     "that does (DICOM with PixelSpacing, NIfTI, MetaImage)")


def volume_counts(image: Image, test: str) -> np.ndarray:
    """A reconstructed SPECT volume (slices, H, W) as float64; InputError for a planar, dynamic or gated study."""
    types = [t.upper() for t in image.metadata.get("image_type") or []]
    planar_kind = next((t for t in ("DYNAMIC", "GATED", "STATIC", "WHOLE BODY") if t in types), None)
    if image.n_frames < 3 or (planar_kind and "RECON TOMO" not in types and "RECON" not in types):
        what = f"a {planar_kind.lower()} planar study" if planar_kind and image.n_frames > 1 else "a planar image"
        raise InputError(image.path, f"is {what} ({image.n_frames} frame{'s' * (image.n_frames != 1)}); "
                                     f"{test} needs a reconstructed SPECT volume")
    volume = image.array.astype(np.float64)
    if not np.isfinite(volume).all() or volume.max() <= 0:
        raise InputError(image.path, f"holds no finite positive values; {test} needs a reconstructed volume")
    return volume


def gaussian(x: np.ndarray, amplitude: float, centre: float, sigma: float, offset: float) -> np.ndarray:
    return amplitude * np.exp(-0.5 * ((x - centre) / sigma) ** 2) + offset


def fit_gaussian(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float] | None:
    """(amplitude, centre, sigma, offset) of a Gaussian plus constant fitted to one peak; None if it fails."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    top = int(np.argmax(y))
    base = float(min(y[0], y[-1]))
    above = y - base
    half = np.flatnonzero(above >= above[top] / 2)
    sigma0 = max((x[half[-1]] - x[half[0]]) / FWHM_PER_SIGMA, (x[1] - x[0]) / 2) if len(half) else 1.0
    try:
        params, _ = curve_fit(gaussian, x, y, p0=(above[top], x[top], sigma0, base), maxfev=2000)
    except (RuntimeError, ValueError):
        return None
    amplitude, centre, sigma, offset = (float(v) for v in params)
    if amplitude <= 0 or not np.isfinite(params).all() or not x[0] <= centre <= x[-1]:
        return None
    return amplitude, centre, abs(sigma), offset


class Result:
    """Mixin for the battery's result dataclasses: ``as_dict()`` gives the stable JSON keys."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


class Analysis:
    """Mixin for the battery's analysis classes: ``results_data()`` once ``analyze()`` has run."""

    _result: Any = None

    def results_data(self):
        """The results as a dataclass (``.as_dict()`` for JSON)."""
        if self._result is None:
            raise RuntimeError("call analyze() first")
        return self._result

    def _summary(self, lines: list[str]) -> str:
        """``lines`` joined, with the figure's path last once there is one."""
        figure = self.results_data().figure
        return "\n".join(lines + ([f"  figure: {figure}"] if figure else []))

    def _save(self, fig, path: str | Path) -> Path:
        """Write ``fig`` as PNG (atomically) and remember it as the result's figure."""
        from nmkit.report.figures import save_figure

        save_figure(fig, path)
        self.results_data().figure = str(path)
        return Path(path)


def rounded(value: float | None, digits: int = 3) -> float | None:
    """``value`` rounded for JSON; None for None, NaN or infinity."""
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def shown(value: float | None, digits: int = 2) -> str:
    """A number for a summary line, "n/a" for None."""
    return "n/a" if value is None else f"{value:.{digits}f}"
