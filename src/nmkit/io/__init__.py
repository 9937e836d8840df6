"""Image readers: ``load_image(path)`` picks the reader from the file's content, then its extension.

Every reader returns an :class:`Image` (float32 pixels of shape (frames or slices, H, W)) and raises
:class:`nmkit.errors.InputError` with one sentence naming the file for any bad input.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from pathlib import Path

from nmkit.errors import InputError
from nmkit.io._common import require_file
from nmkit.io.dicom import dicom_header, read_dicom, read_dicom_dataset
from nmkit.io.image import Header, Image
from nmkit.io.labelme import consensus_mask, mask_to_polygon, read_consensus, read_labelme, write_labelme
from nmkit.limits import TooLarge, pixel_limit
from nmkit.io.metaimage import metaimage_header, read_metaimage, read_metaimage_header
from nmkit.io.nifti import nifti_header, read_nifti
from nmkit.io.npy import npy_header, read_npy
from nmkit.io.raster import PNG_SIGNATURE, TIFF_SIGNATURES, raster_header, read_raster

__all__ = ["Header", "Image", "TooLarge", "consensus_mask", "detect_format", "load_image", "mask_to_polygon",
           "pixel_limit", "read_consensus", "read_dicom", "read_dicom_dataset", "read_header", "read_labelme",
           "read_metaimage", "read_nifti", "read_npy", "read_raster", "write_labelme"]

READERS: dict[str, Callable[[Path], Image]] = {
    "dicom": read_dicom, "metaimage": read_metaimage, "nifti": read_nifti, "raster": read_raster, "npy": read_npy,
}
HEADER_READERS: dict[str, Callable[[Path], Header]] = {
    "dicom": dicom_header, "metaimage": metaimage_header, "nifti": nifti_header, "raster": raster_header,
    "npy": npy_header,
}
EXTENSIONS = {
    ".dcm": "dicom", ".dicom": "dicom", ".ima": "dicom", ".mhd": "metaimage", ".mha": "metaimage",
    ".nii": "nifti", ".nii.gz": "nifti", ".hdr": "nifti", ".png": "raster", ".tif": "raster", ".tiff": "raster",
    ".jpg": "raster", ".jpeg": "raster", ".npy": "npy",
}
SUPPORTED = "DICOM, NIfTI (.nii, .nii.gz), MetaImage (.mhd, .mha), PNG, TIFF, JPEG or NumPy .npy"
NIFTI1_MAGICS = (b"n+1\x00", b"ni1\x00")
NIFTI2_MAGICS = (b"n+2\x00", b"ni2\x00")
JPEG_SIGNATURE = b"\xff\xd8\xff"
GZIP_SIGNATURE = b"\x1f\x8b"


def load_image(path: str | Path) -> Image:
    """Read any supported image file into an :class:`Image`; InputError for anything else."""
    path = require_file(path)
    return READERS[detect_format(path)](path)


def read_header(path: str | Path) -> Header:
    """What an image file declares (format, shape, modality) without decoding a pixel; TooLarge over the
    pixel cap (:func:`pixel_limit`), InputError for anything unreadable."""
    path = require_file(path)
    return HEADER_READERS[detect_format(path)](path)


def detect_format(path: str | Path) -> str:
    """The reader for ``path``: "dicom", "metaimage", "nifti", "raster" or "npy", by content, then extension."""
    path = require_file(path)
    with open(path, "rb") as handle:
        head = handle.read(1024)
    if head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(PNG_SIGNATURE) or head[:4] in TIFF_SIGNATURES or head.startswith(JPEG_SIGNATURE):
        return "raster"
    if _is_nifti(head) or (head.startswith(GZIP_SIGNATURE) and _is_nifti(_gunzip_head(path))):
        return "nifti"
    extension = _extension(path)
    if extension in (".mhd", ".mha"):
        read_metaimage_header(path)  # InputError unless it has MetaImage header keys
        return "metaimage"
    if _looks_like_raw_dicom(head):
        return "dicom"
    if extension in EXTENSIONS:
        return EXTENSIONS[extension]
    try:
        read_dicom_dataset(path, stop_before_pixels=True)
    except InputError:
        hint = "; for MetaImage, open the .mhd header rather than the .raw data" if extension == ".raw" else ""
        raise InputError(path, f"is not an image nmkit can read (unknown format; expected {SUPPORTED}{hint})") \
            from None
    return "dicom"


def _extension(path: Path) -> str:
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes[-2:] == [".nii", ".gz"]:
        return ".nii.gz"
    return suffixes[-1] if suffixes else ""


def _is_nifti(head: bytes) -> bool:
    return head[344:348] in NIFTI1_MAGICS or head[4:8] in NIFTI2_MAGICS


def _gunzip_head(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read(1024)
    except (OSError, EOFError, zlib.error):
        return b""


def _looks_like_raw_dicom(head: bytes) -> bool:
    """A DICOM file without preamble starts with a group 0x0002 or 0x0008 tag, then a VR or a short length."""
    if len(head) < 8:
        return False
    group_le, group_be = int.from_bytes(head[:2], "little"), int.from_bytes(head[:2], "big")
    if group_le in (0x0002, 0x0008):
        order = "little"
    elif group_be in (0x0002, 0x0008):
        order = "big"
    else:
        return False
    explicit_vr = head[4:6].isalpha() and head[4:6].isupper()
    return explicit_vr or int.from_bytes(head[4:8], order) <= 1024
