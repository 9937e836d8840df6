"""NIfTI reader (.nii, .nii.gz) through nibabel.

Axis order: NIfTI stores data as (x, y, z); nmkit arrays are (slices, H, W), so a volume is returned
as ``data.transpose(2, 1, 0)``, i.e. ``array[z, y, x] == data[x, y, z]``, and a 2-D image (x, y) as
``array[0, y, x]``. No reorientation is done: the affine is kept in ``metadata["affine"]``.
"""

from __future__ import annotations

import gzip
import math
import re
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from nmkit.errors import InputError
from nmkit.io._common import checked_pixels, reason, require_file
from nmkit.io.image import Header, Image
from nmkit.limits import check_inflated, check_pixels

AXIS_ORDER = "array[z, y, x] = nifti data[x, y, z]"
UNIT_TO_MM = {"mm": 1.0, "meter": 1000.0, "micron": 0.001}
MODALITY_WORDS = {"NM": "NM", "SPECT": "NM", "PT": "PT", "PET": "PT", "CT": "CT", "MR": "MR", "MRI": "MR",
                  "CR": "CR", "DX": "DX", "US": "US"}


def read_nifti(path: str | Path) -> Image:
    """A NIfTI image as (slices, H, W) with (dy, dx) pixel spacing and dz slice spacing in mm."""
    path = require_file(path)
    image = _checked(path)
    try:
        data = np.asanyarray(image.dataobj)  # applies scl_slope / scl_inter
    except Exception as exc:  # nibabel raises ImageFileError, EOFError, zlib and gzip errors
        raise InputError(path, f"could not be read as NIfTI ({reason(exc)})") from exc
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim == 2:
        data = data.T[None]
    elif data.ndim == 3:
        data = data.transpose(2, 1, 0)
    array = checked_pixels(data, path)
    header = image.header
    try:
        space_unit = header.get_xyzt_units()[0]
    except KeyError:  # a unit code NIfTI does not define
        space_unit = "unknown"
    scale = UNIT_TO_MM.get(space_unit, 1.0)
    zooms = [float(z) * scale for z in header.get_zooms()[:3]] + [1.0, 1.0, 1.0]
    description = _description(header)
    metadata: dict[str, Any] = {
        "format": "nifti",
        "axis_order": AXIS_ORDER,
        "affine": [[float(v) for v in row] for row in image.affine],
        "description": description,
        "spatial_units": space_unit,
        "spacing_known": space_unit in UNIT_TO_MM,
    }
    return Image(array=array, pixel_spacing=(zooms[1], zooms[0]), modality=_modality(description),
                 metadata=metadata, path=path, slice_spacing=zooms[2] if array.shape[0] > 1 else None)


def nifti_header(path: str | Path) -> Header:
    """Shape (slices, H, W) and modality of a NIfTI file from its header; TooLarge over the pixel cap."""
    path = require_file(path)
    header = _checked(path).header
    dims = [int(d) for d in header.get_data_shape()]
    while len(dims) > 3 and dims[-1] == 1:
        dims.pop()
    dims += [1] * (2 - len(dims))
    description = _description(header)
    return Header("nifti", (math.prod(dims[2:]), dims[1], dims[0]), _modality(description),
                  {"format": "nifti", "description": description})


def _checked(path: Path) -> nib.Nifti1Image:
    """The image with its data not yet read, after checking the header's size against the pixel cap."""
    try:
        image = _load(path)
        shape, itemsize = image.header.get_data_shape(), image.header.get_data_dtype().itemsize
    except InputError:
        raise
    except Exception as exc:  # nibabel raises ImageFileError, EOFError, zlib and gzip errors
        raise InputError(path, f"could not be read as NIfTI ({reason(exc)})") from exc
    if not isinstance(image.header, nib.Nifti1Header):
        raise InputError(path, "is not a NIfTI image")
    check_pixels(path, shape, itemsize)
    return image


def _load(path: Path) -> nib.Nifti1Image:
    """nibabel picks the format from the extension; a file found by content is read from its bytes."""
    if path.name.lower().endswith((".nii", ".nii.gz", ".hdr")):
        return nib.load(str(path))
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        with open(path, "rb") as handle:
            check_inflated(path, handle, 47)
        raw = gzip.decompress(raw)
    image_class = nib.Nifti2Image if raw[4:7] in (b"n+2", b"ni2") else nib.Nifti1Image
    return image_class.from_bytes(raw)


def _description(header: nib.Nifti1Header) -> str | None:
    raw = header["descrip"].item() if "descrip" in header else b""
    text = raw.decode("latin-1", "replace") if isinstance(raw, bytes) else str(raw)
    return text.strip("\x00 ").strip() or None


def _modality(description: str | None) -> str:
    """A DICOM modality code written as an upper-case word in the header description, else "OT"."""
    for word in re.findall(r"[A-Za-z]+", description or ""):
        if word in MODALITY_WORDS:
            return MODALITY_WORDS[word]
    return "OT"
