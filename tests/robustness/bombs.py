"""Decompression bombs: small files that declare (and, with ``complete``, really hold) huge images.

Each is written in a streaming way, so making one never holds the decoded image in memory. Used by the
robustness tests and by ``benchmarks/bomb.py``.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian, NuclearMedicineImageStorage, generate_uid

CHUNK = 1 << 22


def _zeros(compressor, n_bytes: int, complete: bool) -> bytes:
    """``n_bytes`` zero bytes compressed (only the first chunk unless ``complete``)."""
    out, left = [], n_bytes if complete else min(n_bytes, CHUNK)
    zeros = bytes(CHUNK)
    while left > 0:
        out.append(compressor.compress(zeros[:min(left, CHUNK)]))
        left -= CHUNK
    return b"".join(out)


def deflated_dicom(path: Path, rows: int = 8192, columns: int = 8192, frames: int = 1, complete: bool = True) -> Path:
    """An NM DICOM in Deflated Explicit VR Little Endian declaring ``frames`` x ``rows`` x ``columns`` uint16
    zeros (the issue's bomb: 8192 x 8192, about 130 kB on disk)."""
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = NuclearMedicineImageStorage, generate_uid()
    ds.Modality, ds.PatientID = "NM", "BOMB"
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    n_bytes = rows * columns * frames * 2
    pixel_header = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, n_bytes)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    stream = deflate.compress(body.getvalue() + pixel_header) + _zeros(deflate, n_bytes, complete) + deflate.flush()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    head = DicomBytesIO()
    head.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(head, meta)
    path.write_bytes(head.getvalue() + stream)
    return path


def png(path: Path, width: int = 30000, height: int = 30000, complete: bool = True) -> Path:
    """An 8-bit grey PNG of ``height`` x ``width`` zeros (900 MB decoded, under 1 MB on disk)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    data = _zeros(compressor, (width + 1) * height, complete) + compressor.flush()  # filter byte + row, each row
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def nifti(path: Path, shape: tuple[int, int, int] = (2048, 2048, 512), complete: bool = False) -> Path:
    """A .nii.gz declaring an int16 volume of ``shape`` (4 GB for the default), its data zeros."""
    import nibabel as nib

    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.int16)
    header["vox_offset"] = 352
    raw = header.binaryblock + b"\0" * 4
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    n_bytes = int(np.prod(shape)) * 2
    path.write_bytes(compressor.compress(raw) + _zeros(compressor, n_bytes, complete) + compressor.flush())
    return path


def npy(path: Path, shape: tuple[int, ...] = (100000, 100000)) -> Path:
    """A .npy whose header declares a float64 array of ``shape`` (80 GB) followed by a few bytes."""
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f8", "fortran_order": False, "shape": shape})
        handle.write(bytes(64))
    return path


def gzip_of(path: Path, n_bytes: int) -> Path:
    """``n_bytes`` of zeros, gzip-compressed (for readers that inflate a .gz themselves)."""
    with gzip.open(path, "wb") as handle:
        zeros = bytes(CHUNK)
        for start in range(0, n_bytes, CHUNK):
            handle.write(zeros[:min(CHUNK, n_bytes - start)])
    return path
