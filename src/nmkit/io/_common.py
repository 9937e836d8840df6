"""Checks every reader shares: the file is there and not empty, the pixels are a finite numeric stack."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nmkit.errors import InputError

# ITU-R BT.601 luma weights, used wherever a colour image is turned into grey.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
LUMA_NOTE = "colour image converted to grey with ITU-R BT.601 luma weights (0.299 R + 0.587 G + 0.114 B)"


def require_file(path: str | Path) -> Path:
    """``path`` as a Path; InputError when it is missing, a folder or empty."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_dir():
        raise InputError(path, "is a folder, not an image file")
    if path.stat().st_size == 0:
        raise InputError(path, "the file is empty")
    return path


def reason(exc: BaseException) -> str:
    """The first sentence of a library's error message, to quote inside one of ours."""
    text = " ".join(str(exc).split("Traceback (most recent call last)")[0].split()) or type(exc).__name__
    first = text.split(". ")[0].rstrip(".")
    return first if len(first) <= 160 else first[:157] + "..."


def to_grey(rgb: np.ndarray) -> np.ndarray:
    """Luma of an (..., 3 or 4) colour array; a 4th (alpha) channel is ignored."""
    channels = np.asarray(rgb, dtype=np.float64)[..., :3]
    return channels @ np.asarray(LUMA_WEIGHTS)


def checked_pixels(array: np.ndarray, path: str | Path | None) -> np.ndarray:
    """A finite float32 (frames, H, W) array from a 2-D or 3-D numeric array; InputError otherwise."""
    arr = np.asarray(array)
    if arr.dtype.kind not in "biuf":
        raise InputError(path, f"pixel values must be real numbers, but the data type is {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise InputError(path, f"expected a 2-D image or a 3-D stack of frames, got a {arr.ndim}-D array "
                               f"of shape {tuple(arr.shape)}")
    if arr.size == 0:
        raise InputError(path, f"the image has no pixels (shape {tuple(arr.shape)})")
    out = np.ascontiguousarray(arr, dtype=np.float32)
    if arr.dtype.kind != "f":  # integers and booleans (below float32's 3.4e38) are always finite: no pass needed
        return out
    bad = int(out.size - np.count_nonzero(np.isfinite(out)))
    if bad:
        raise InputError(path, f"{bad} pixel value(s) are NaN or infinite (or too large for float32)")
    return out
