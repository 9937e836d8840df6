"""NumPy .npy reader: a 2-D image or a 3-D stack of numbers (never pickled objects).

Named ``npy`` rather than ``numpy`` so that it can never shadow the numpy package.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nmkit.errors import InputError
from nmkit.io._common import checked_pixels, reason, require_file
from nmkit.io.image import Image


def read_npy(path: str | Path) -> Image:
    """A .npy array of shape (H, W) or (frames, H, W); spacing unknown."""
    path = require_file(path)
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
