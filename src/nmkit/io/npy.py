"""NumPy .npy reader: a 2-D image or a 3-D stack of numbers (never pickled objects).

Named ``npy`` rather than ``numpy`` so that it can never shadow the numpy package.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nmkit.errors import InputError
from nmkit.io._common import checked_pixels, reason, require_file
from nmkit.io.image import Header, Image
from nmkit.limits import check_pixels


def read_npy(path: str | Path) -> Image:
    """A .npy array of shape (H, W) or (frames, H, W); spacing unknown."""
    path = require_file(path)
    npy_header(path)
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:
        problem = ("holds Python objects, which nmkit does not load (allow_pickle=False)"
                   if "allow_pickle" in str(exc) else f"could not be read as a NumPy .npy file ({reason(exc)})")
        raise InputError(path, problem) from exc
    except Exception as exc:  # EOFError, OSError, UnpicklingError for truncated or foreign files
        raise InputError(path, f"could not be read as a NumPy .npy file ({reason(exc)})") from exc
    if not isinstance(array, np.ndarray):
        array.close()
        raise InputError(path, "is a NumPy archive of several arrays (.npz), not a single .npy array")
    metadata = {"format": "npy", "dtype": str(array.dtype), "spacing_known": False}
    return Image(array=checked_pixels(array, path), metadata=metadata, path=path)


def npy_header(path: str | Path) -> Header:
    """Shape (frames, H, W) from a .npy header; TooLarge over the pixel cap. An .npz archive passes through
    (np.load refuses it with its own sentence)."""
    path = require_file(path)
    with open(path, "rb") as handle:
        if handle.read(2) == b"PK":
            return Header("npy", (0, 0, 0), metadata={"format": "npz"})
        handle.seek(0)
        try:
            version = np.lib.format.read_magic(handle)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(handle)
        except Exception as exc:  # ValueError, EOFError, SyntaxError for damaged headers
            raise InputError(path, f"could not be read as a NumPy .npy file ({reason(exc)})") from exc
    check_pixels(path, shape, dtype.itemsize)
    dims = [1] * max(0, 2 - len(shape)) + list(shape)
    return Header("npy", (math.prod(dims[:-2]), dims[-2], dims[-1]), metadata={"format": "npy", "dtype": str(dtype)})
