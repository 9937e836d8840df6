"""Uploads: stored under a name the server chooses, size-limited, and typed by content, never by name."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from pydicom.uid import DeflatedExplicitVRLittleEndian

from nmkit.errors import InputError
from nmkit.io import TooLarge, detect_format, read_dicom_dataset, read_header
from nmkit.io.matlab import mat_header
from nmkit.web.analysis import Probe

MAT_HEADERS = (b"MATLAB 5.0 MAT-file", b"MATLAB 7.3 MAT-file")
RASTER_SUFFIX = {b"\x89PNG": ".png", b"\xff\xd8\xff": ".jpg", b"II*\x00": ".tif", b"MM\x00*": ".tif"}
CHUNK = 1 << 20


class UploadError(Exception):
    """A rejected upload: ``status`` is the HTTP code, ``str()`` one sentence naming the client's file."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def receive(stream: BinaryIO, folder: Path, client_name: str, max_bytes: int) -> Path:
    """Copy ``stream`` to ``folder/upload`` (never a client path); UploadError when empty or over the limit."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "upload"
    size = 0
    with open(target, "wb") as out:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise UploadError(413, f"{client_name}: the file is larger than the upload limit of "
                                       f"{max_bytes / 2**20:g} MB.")
            out.write(chunk)
    if size == 0:
        raise UploadError(400, f"{client_name}: the file is empty.")
    return target


def probe(path: Path, client_name: str) -> tuple[Path, Probe]:
    """Type ``path`` by its content, give it the matching suffix and read its header, decoding nothing
    (HTTP 415 for a type nmkit does not read, 413 over the pixel cap in force, 422 for a broken header)."""
    head = _head(path)
    with refusals(client_name):
        if head.startswith(MAT_HEADERS):
            typed = _rename(path, ".mat")
            header = mat_header(typed)
        else:
            kind = detect_format(path)
            if kind == "metaimage":
                raise UploadError(415, f"{client_name}: MetaImage needs its .raw file beside it; upload DICOM, "
                                       "NIfTI, PNG or .mat instead.")
            typed = _rename(path, _suffix(kind, head))
            header = read_header(typed)
    return typed, Probe(header.format, header.modality, tuple(header.shape), dict(header.metadata))


def verify(typed: Path, found: Probe, client_name: str) -> None:
    """Check the header again under the chosen workflow's pixel cap, and that a DICOM file holds all its
    pixel bytes (read, not decoded), so a bomb or a truncated file is refused before it is queued."""
    with refusals(client_name):
        if found.format == "mat":
            mat_header(typed)
        else:
            read_header(typed)
        if found.format == "dicom" and found.metadata.get("transfer_syntax") != DeflatedExplicitVRLittleEndian:
            read_dicom_dataset(typed)  # file bytes only; a deflated one is inflated by its job


@contextlib.contextmanager
def refusals(client_name: str) -> Iterator[None]:
    """InputError -> UploadError naming the client's file: 413 too large, 415 unknown type, else 422."""
    try:
        yield
    except InputError as err:
        status = 413 if isinstance(err, TooLarge) else 415 if "is not an image nmkit can read" in err.problem else 422
        raise UploadError(status, f"{client_name}: {err.problem}.") from None


def discard(folder: Path) -> None:
    """Remove an upload folder and everything in it."""
    shutil.rmtree(folder, ignore_errors=True)


def _head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(1024)


def _suffix(kind: str, head: bytes) -> str:
    if kind == "raster":
        return next((s for magic, s in RASTER_SUFFIX.items() if head.startswith(magic)), ".png")
    if kind == "nifti":
        return ".nii.gz" if head.startswith(b"\x1f\x8b") else ".nii"
    return {"dicom": ".dcm", "npy": ".npy"}[kind]


def _rename(path: Path, suffix: str) -> Path:
    typed = path.with_name("upload" + suffix)
    path.replace(typed)
    return typed
