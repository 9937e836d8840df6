"""MetaImage reader (.mhd header + data file, or single-file .mha) through SimpleITK, 2-D and 3-D."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from nmkit.errors import InputError
from nmkit.io._common import checked_pixels, reason, require_file
from nmkit.io.image import Header, Image
from nmkit.limits import check_pixels

HEADER_BYTES = 65536
ELEMENT_BYTES = {"MET_CHAR": 1, "MET_UCHAR": 1, "MET_SHORT": 2, "MET_USHORT": 2, "MET_INT": 4, "MET_UINT": 4,
                 "MET_LONG": 4, "MET_ULONG": 4, "MET_LONG_LONG": 8, "MET_ULONG_LONG": 8, "MET_FLOAT": 4,
                 "MET_DOUBLE": 8}
VECTOR_KEYS = ("ElementSpacing", "ElementSize", "Offset", "Position", "Origin", "CenterOfRotation")
MATRIX_KEYS = ("TransformMatrix", "Rotation", "Orientation")  # NDims x NDims values
# MetaIO's Modality values, as DICOM modality codes.
MODALITIES = {"MET_MOD_CT": "CT", "MET_MOD_MR": "MR", "MET_MOD_NM": "NM", "MET_MOD_US": "US"}


def read_metaimage_header(path: str | Path) -> dict[str, str]:
    """The ``key = value`` lines of a MetaImage header, up to and including ElementDataFile."""
    path = require_file(path)
    with open(path, "rb") as handle:
        head = handle.read(HEADER_BYTES).decode("latin-1")
    header: dict[str, str] = {}
    for line in head.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            break
        header[key.strip()] = value.strip()
        if key.strip() == "ElementDataFile":
            break
    if not {"NDims", "DimSize"} <= header.keys():
        raise InputError(path, "is not a MetaImage header (no NDims and DimSize lines)")
    return header


def metaimage_header(path: str | Path) -> Header:
    """Shape (slices, H, W) from a MetaImage header; TooLarge over the pixel cap, InputError for a bad DimSize."""
    path = Path(path)
    header = read_metaimage_header(path)
    try:
        n_dims = int(header["NDims"])
        dims = [int(v) for v in header["DimSize"].split()]
        channels = int(header.get("ElementNumberOfChannels", "1"))
    except ValueError:
        raise InputError(path, f"has NDims {header['NDims']!r}, DimSize {header['DimSize']!r} and "
                               f"ElementNumberOfChannels {header.get('ElementNumberOfChannels', '1')!r}; each must be "
                               "whole numbers") from None
    # SimpleITK trusts these counts (a forged NDims crashes it): check them before it reads anything.
    if not (2 <= n_dims <= 4 and len(dims) == n_dims and min(dims) >= 1 and channels >= 1):
        raise InputError(path, f"has NDims {n_dims} and DimSize {header['DimSize']!r}; nmkit reads 2-D to 4-D "
                               "MetaImages with one positive size per dimension")
    for key in VECTOR_KEYS + MATRIX_KEYS:
        values = header.get(key, "").split()
        if key in header and len(values) != (n_dims * n_dims if key in MATRIX_KEYS else n_dims):
            raise InputError(path, f"has {len(values)} value(s) in {key} for {n_dims} dimensions")
    check_pixels(path, [*dims, channels], ELEMENT_BYTES.get(header.get("ElementType", ""), 8))
    dims += [1] * max(0, 2 - len(dims))
    return Header("metaimage", (math.prod(dims[2:]), dims[1], dims[0]), MODALITIES.get(header.get("Modality", ""), "OT"),
                  {"format": "metaimage", "header": header})


def read_metaimage(path: str | Path) -> Image:
    """A MetaImage as (slices, H, W); ElementSpacing (or ElementSize) gives the spacing in mm."""
    path = Path(path)
    header = metaimage_header(path).metadata["header"]
    data_file = header.get("ElementDataFile", "")
    single = data_file.split()[0] if data_file else ""
    if single and single.upper() not in ("LOCAL", "LIST") and "%" not in single:
        data_path = path.parent / single
        if not data_path.is_file():
            raise InputError(path, f"its data file {single} is missing (looked for {data_path})")
        _check_data_size(path, header, data_path)
    try:
        image = sitk.ReadImage(str(path), imageIO="MetaImageIO")
    except RuntimeError as exc:
        raise InputError(path, f"could not be read as a MetaImage ({_itk_reason(exc)})") from exc
    if image.GetNumberOfComponentsPerPixel() > 1:
        raise InputError(path, f"has {image.GetNumberOfComponentsPerPixel()} values per pixel, "
                               "but nmkit reads greyscale MetaImages only")
    array = checked_pixels(sitk.GetArrayFromImage(image), path)  # SimpleITK gives (z, y, x) already
    spacing = image.GetSpacing()  # (x, y[, z])
    metadata: dict[str, Any] = {
        "format": "metaimage",
        "spacing_known": "ElementSpacing" in header or "ElementSize" in header,
        "element_type": header.get("ElementType"),
        "origin": [float(v) for v in image.GetOrigin()],
        "header": header,
    }
    modality = MODALITIES.get(header.get("Modality", ""), "OT")
    return Image(array=array, pixel_spacing=(spacing[1], spacing[0]), modality=modality, metadata=metadata,
                 path=path, slice_spacing=float(spacing[2]) if len(spacing) > 2 else None)


def _check_data_size(path: Path, header: dict[str, str], data_path: Path) -> None:
    """An uncompressed data file must hold every pixel the header promises."""
    if header.get("CompressedData", "False").lower() == "true" or header.get("HeaderSize", "0") != "0":
        return
    try:
        n_pixels = int(np.prod([int(v) for v in header["DimSize"].split()]))
        channels = int(header.get("ElementNumberOfChannels", "1"))
        needed = n_pixels * channels * ELEMENT_BYTES[header.get("ElementType", "")]
    except (KeyError, ValueError):
        return  # let SimpleITK judge headers we do not fully understand
    size = data_path.stat().st_size
    if size < needed:
        raise InputError(path, f"its data file {data_path.name} holds {size} bytes but the header needs {needed} "
                               "(the file is truncated)")


def _itk_reason(exc: RuntimeError) -> str:
    """ITK messages are multi-line with source locations: keep the line that says what went wrong."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if "Description:" in line or "ERROR" in line.upper()]
    text = (useful[-1] if useful else lines[-1] if lines else "unreadable").split("Description:")[-1]
    return reason(RuntimeError(re.sub(r"^ITK ERROR: \w+\(0x[0-9a-f]+\): ", "", text.strip())))
