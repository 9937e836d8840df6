"""PNG (and other pillow formats) and TIFF reader: grey 8/16-bit pixels, colour converted to grey with a note.

Multi-page TIFFs (and animated PNGs) become frames. Spacing is unknown, (1, 1), unless a TIFF's
resolution tags are metric (ResolutionUnit CENTIMETER, or an ImageJ unit of mm/cm/micron).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from PIL import Image as PILImage
from PIL import ImageSequence, UnidentifiedImageError

from nmkit.errors import InputError
from nmkit.io._common import LUMA_NOTE, checked_pixels, reason, require_file, to_grey
from nmkit.io.image import Header, Image
from nmkit.limits import TooLarge, check_pixels

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
GREY_MODES = {"1", "L", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"}
IMAGEJ_UNIT_TO_MM = {"mm": 1.0, "millimeter": 1.0, "millimetre": 1.0, "cm": 10.0, "centimeter": 10.0,
                     "micron": 0.001, "um": 0.001, "\u00b5m": 0.001, "\u03bcm": 0.001}
CENTIMETER = 3
INCH = 2
BAND_BYTES = {"1": 1 / 8, "I": 4, "F": 4, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2, "I;16LA": 2}


def read_raster(path: str | Path) -> Image:
    """A PNG, JPEG or TIFF file (TIFF by its signature or extension) as (frames, H, W)."""
    path = require_file(path)
    return _read_tiff(path) if _is_tiff(path) else _read_with_pillow(path)


def raster_header(path: str | Path) -> Header:
    """Format, (frames, H, W) and mode of a raster file, from its header only; TooLarge over the pixel cap."""
    path = require_file(path)
    if _is_tiff(path):
        try:
            with tifffile.TiffFile(path) as tiff:
                shape, axes = _checked_tiff_shape(tiff, path)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(path, f"could not be read as a TIFF ({reason(exc)})") from exc
        plane = shape[:-1] if axes.endswith("S") else shape
        return Header("raster", (math.prod(plane[:-2]), *plane[-2:]), metadata={"format": "tiff", "tiff_axes": axes})
    with _pillow(path) as picture:
        return Header("raster", (getattr(picture, "n_frames", 1), picture.height, picture.width),
                      metadata={"format": (picture.format or "raster").lower(), "mode": picture.mode})


def _is_tiff(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(4)
    return head in TIFF_SIGNATURES or (head != PNG_SIGNATURE[:4] and path.suffix.lower() in (".tif", ".tiff"))


@contextlib.contextmanager
def _pillow(path: Path) -> Iterator[PILImage.Image]:
    """The file opened by pillow (header only), its declared size checked against the cap; one InputError
    for anything pillow cannot read, here or while the block decodes it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)  # the cap below is the check
            with PILImage.open(path) as picture:
                bands = picture.getbands()
                check_pixels(path, (getattr(picture, "n_frames", 1), picture.height, picture.width, len(bands)),
                             BAND_BYTES.get(picture.mode, 1))
                yield picture
    except InputError:
        raise
    except PILImage.DecompressionBombError as exc:
        raise TooLarge(path, f"is refused by Pillow's decompression-bomb limit ({reason(exc)})") from exc
    except UnidentifiedImageError as exc:
        raise InputError(path, "could not be read as a PNG or other raster image (damaged or not an image)") from exc
    except Exception as exc:  # pillow raises OSError, SyntaxError, ValueError on damaged files
        raise InputError(path, f"could not be read as a PNG or other raster image ({reason(exc)})") from exc


def _read_with_pillow(path: Path) -> Image:
    metadata: dict[str, Any] = {"spacing_known": False}
    with _pillow(path) as picture:
        metadata["format"] = (picture.format or "raster").lower()
        metadata["mode"] = picture.mode
        frames = [_grey_frame(frame, metadata) for frame in ImageSequence.Iterator(picture)]
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


def _checked_tiff_shape(tiff: tifffile.TiffFile, path: Path) -> tuple[tuple[int, ...], str]:
    series = tiff.series[0]
    check_pixels(path, series.shape, series.dtype.itemsize)
    return tuple(series.shape), series.axes


def _read_tiff(path: Path) -> Image:
    try:
        with tifffile.TiffFile(path) as tiff:
            _checked_tiff_shape(tiff, path)
            series = tiff.series[0]
            array, axes = series.asarray(), series.axes
            spacing, note = _tiff_spacing(tiff)
            n_series = len(tiff.series)
    except InputError:
        raise
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
