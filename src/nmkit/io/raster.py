"""PNG (and other pillow formats) and TIFF reader: grey 8/16-bit pixels, colour converted to grey with a note.

Multi-page TIFFs (and animated PNGs) become frames. Spacing is unknown, (1, 1), unless a TIFF's
resolution tags are metric (ResolutionUnit CENTIMETER, or an ImageJ unit of mm/cm/micron).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from PIL import Image as PILImage
from PIL import ImageSequence, UnidentifiedImageError

from nmkit.errors import InputError
from nmkit.io._common import LUMA_NOTE, checked_pixels, reason, require_file, to_grey
from nmkit.io.image import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
GREY_MODES = {"1", "L", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"}
IMAGEJ_UNIT_TO_MM = {"mm": 1.0, "millimeter": 1.0, "millimetre": 1.0, "cm": 10.0, "centimeter": 10.0,
                     "micron": 0.001, "um": 0.001, "\u00b5m": 0.001, "\u03bcm": 0.001}
CENTIMETER = 3
INCH = 2


def read_raster(path: str | Path) -> Image:
    """A PNG, JPEG or TIFF file (TIFF by its signature or extension) as (frames, H, W)."""
    path = require_file(path)
    with open(path, "rb") as handle:
        head = handle.read(4)
    is_png = head == PNG_SIGNATURE[:4]
    if head in TIFF_SIGNATURES or (not is_png and path.suffix.lower() in (".tif", ".tiff")):
        return _read_tiff(path)
    return _read_with_pillow(path)


def _read_with_pillow(path: Path) -> Image:
    metadata: dict[str, Any] = {"spacing_known": False}
    try:
        with PILImage.open(path) as picture:
            metadata["format"] = (picture.format or "raster").lower()
            metadata["mode"] = picture.mode
            frames = [_grey_frame(frame, metadata) for frame in ImageSequence.Iterator(picture)]
    except UnidentifiedImageError as exc:
        raise InputError(path, "could not be read as a PNG or other raster image (damaged or not an image)") from exc
    except Exception as exc:  # pillow raises OSError, SyntaxError, ValueError on damaged files
        raise InputError(path, f"could not be read as a PNG or other raster image ({reason(exc)})") from exc
    if len({frame.shape for frame in frames}) > 1:
        raise InputError(path, "its frames differ in size")
    return Image(array=checked_pixels(np.stack(frames), path), metadata=metadata, path=path)


def _grey_frame(frame: PILImage.Image, metadata: dict[str, Any]) -> np.ndarray:
    """One pillow frame as a 2-D array; colour becomes luma and the metadata says so."""
    if frame.mode in GREY_MODES:
        return np.array(frame)
    if frame.mode in ("LA", "La", "I;16LA"):
        metadata["conversion_note"] = "alpha channel dropped"
        return np.array(frame.getchannel(0))
    metadata["conversion_note"] = LUMA_NOTE
    return to_grey(np.array(frame.convert("RGB")))


def _read_tiff(path: Path) -> Image:
    try:
        with tifffile.TiffFile(path) as tiff:
            series = tiff.series[0]
            array, axes = series.asarray(), series.axes
            spacing, note = _tiff_spacing(tiff)
            n_series = len(tiff.series)
    except Exception as exc:  # tifffile raises TiffFileError, ValueError, struct and codec errors
        raise InputError(path, f"could not be read as a TIFF ({reason(exc)})") from exc
    metadata: dict[str, Any] = {"format": "tiff", "tiff_axes": axes, "dtype": str(array.dtype),
                                "spacing_known": spacing is not None, "tiff_series": n_series}
    if note:
        metadata["spacing_note"] = note
    if axes.endswith("S"):
        samples = array.shape[-1]
        if samples in (3, 4):
            array = to_grey(array)
            metadata["conversion_note"] = LUMA_NOTE
        elif samples == 1:
            array = array[..., 0]
        else:
            raise InputError(path, f"has {samples} samples per pixel, but nmkit reads grey or RGB images only")
    while array.ndim > 3 and array.shape[0] == 1:
        array = array[0]
    return Image(array=checked_pixels(array, path), pixel_spacing=spacing or (1.0, 1.0), metadata=metadata,
                 path=path)


def _tiff_spacing(tiff: tifffile.TiffFile) -> tuple[tuple[float, float] | None, str | None]:
    """(row, col) mm from metric resolution tags; inch resolutions are noted but not trusted."""
    page = tiff.pages[0]
    x_res, y_res = page.resolution
    if not (x_res > 0 and y_res > 0):
        return None, None
    if tiff.is_imagej:
        unit = str((tiff.imagej_metadata or {}).get("unit", "")).strip().lower()
        if unit in IMAGEJ_UNIT_TO_MM:
            scale = IMAGEJ_UNIT_TO_MM[unit]
            return (scale / y_res, scale / x_res), None
    if int(page.resolutionunit) == CENTIMETER:
        return (10.0 / y_res, 10.0 / x_res), None
    if int(page.resolutionunit) == INCH:
        return None, f"resolution {x_res:g} x {y_res:g} dpi ignored (screen resolutions are not pixel sizes)"
    return None, None
