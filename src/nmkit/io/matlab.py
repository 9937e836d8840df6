"""The bone-scan study .mat format: ``V`` (or ``Y``) 1024 x 256 x 2 views and a ``diaginfo`` struct.

``V[:, :, 0]`` is the anterior and ``V[:, :, 1]`` the posterior whole-body view (counts, uint16);
``diaginfo.kneejointid`` = [right, left] codes: -1 unspecified, 2 normal, 3 minimal, 4 mild DJD,
5 moderate DJD, 6 severe DJD (grade = code - 2); ``diaginfo.kneejointname`` the matching names.
MATLAB v5 files are read and written with scipy.io, v7.3 (HDF5) files with h5py.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from nmkit.atomic import atomic_path
from nmkit.errors import InputError
from nmkit.io._common import require_file
from nmkit.io.image import Header
from nmkit.limits import check_inflated, check_pixels, limit_bytes

VIEW_SHAPE = (1024, 256)
CODE_NAMES = {-1: "unspecified", 2: "normal", 3: "minimal", 4: "mild DJD", 5: "moderate DJD", 6: "severe DJD"}
"""Knee codes of the study; 0 and 1 are within the valid range -1..6 but, like -1, carry no grade."""
VERSIONS = ("v5", "v7.3")
MI_MATRIX, MI_COMPRESSED = 14, 15
MAX_INFLATED = 64 << 20  # a study's arrays inflate to about 1 MB; the walk holds at most this much
MI_NUMERIC = {1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 16, 17, 18}  # the MAT-file v5 data types scipy can read
CLASS_BYTES = {"int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "single": 4, "logical": 1}
_MAT5_HEADER = b"MATLAB 5.0 MAT-file, Platform: posix, written by nmkit"
_MAT73_HEADER = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 1970 HDF5 schema 1.00 ."


@dataclass
class BoneStudy:
    """One study: ``views`` (2, 1024, 256) float32 counts (anterior, posterior) and the [right, left] knee codes."""

    views: np.ndarray
    knee_codes: tuple[int, int]
    path: Path | None = None

    @property
    def anterior(self) -> np.ndarray:
        return self.views[0]

    @property
    def posterior(self) -> np.ndarray:
        return self.views[1]

    @property
    def knee_grades(self) -> tuple[int, int]:
        """[right, left] grade 0-4 (normal .. severe DJD), -1 where the code carries no grade."""
        return tuple(code - 2 if code >= 2 else -1 for code in self.knee_codes)  # type: ignore[return-value]


def read_bone_mat(path: str | Path) -> BoneStudy:
    """Read a study .mat file (v5 or v7.3); InputError naming the file for anything malformed, TooLarge
    when an array declares more than the pixel cap."""
    path = require_file(path)
    if h5py.is_hdf5(path):
        array, codes = _read_v73(path)
    else:
        array, codes = _read_v5(path)
    return BoneStudy(_views(path, array), _codes(path, codes), path)


def mat_header(path: str | Path) -> Header:
    """The (views, rows, columns) of a study .mat file from its array headers, every array checked against
    the pixel cap before anything is read; InputError without a 'V' or 'Y' array."""
    path = require_file(path)
    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as mat:
                arrays = {name: (item.shape[::-1], item.dtype.itemsize) for name, item in mat.items()
                          if isinstance(item, h5py.Dataset)}
        else:
            check_mat5_elements(path)
            arrays = {name: (shape, CLASS_BYTES.get(kind, 8)) for name, shape, kind in scipy.io.whosmat(path)}
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001  (scipy and h5py raise many types for a non-.mat file)
        raise InputError(path, f"cannot be read as a MATLAB file ({type(err).__name__})") from err
    for shape, itemsize in arrays.values():
        check_pixels(path, shape, itemsize)
    shape = next((arrays[k][0] for k in ("V", "Y") if k in arrays), None)
    if shape is None:
        raise InputError(path, "has no 'V' or 'Y' array of whole-body views")
    views = (shape[2] if len(shape) > 2 else 1, shape[0] if shape else 1, shape[1] if len(shape) > 1 else 1)
    return Header("mat", views, "NM", {"format": "mat"})


def check_mat5_elements(path: Path) -> None:
    """Walk a MATLAB v5 file's data elements (inflating compressed ones chunk by chunk against the pixel cap)
    and refuse impossible ones: scipy's reader trusts them and crashes the process on some (a numeric
    element of type 0, a complex flag without an imaginary part)."""
    data = path.read_bytes()
    if len(data) < 128 or data[126:128] not in (b"IM", b"MI"):
        raise InputError(path, "cannot be read as a MATLAB file (no MATLAB 5 header)")
    order = "<" if data[126:128] == b"IM" else ">"
    for kind, body, size in _mat5_elements(path, data, 128, len(data), order):
        if kind == MI_COMPRESSED:
            limit = min(limit_bytes(), MAX_INFLATED)
            inner = check_inflated(path, io.BytesIO(data[body:body + size]), zlib.MAX_WBITS, limit=limit,
                                   keep=limit + 1)
            elements = _mat5_elements(path, inner, 0, len(inner), order)
            if [k for k, _, _ in elements] != [MI_MATRIX]:
                raise InputError(path, f"has a compressed MATLAB element at byte {body - 8} that holds no one array")
            _check_mat5_matrix(path, inner, elements[0][1], elements[0][1] + elements[0][2], order, 1)
        elif kind == MI_MATRIX:
            _check_mat5_matrix(path, data, body, body + size, order, 1)
        else:
            raise InputError(path, f"has a top-level MATLAB data element of type {kind} at byte {body - 8}")


def _mat5_elements(path: Path, data: bytes, start: int, end: int, order: str) -> list[tuple[int, int, int]]:
    """The (type, start of data, size) of each data element in ``data[start:end]``."""
    found, at = [], start
    while at + 8 <= end:
        kind, size = struct.unpack_from(order + "II", data, at)
        if kind >> 16:  # the small element format: type and size share one word, data in the next 4 bytes
            kind, size, body, at_next = kind & 0xFFFF, kind >> 16, at + 4, at + 8
            if size > 4:
                raise InputError(path, f"has a small MATLAB data element of {size} bytes at byte {at}")
        else:
            body, at_next = at + 8, at + 8 + size + (-size % 8 if kind != MI_COMPRESSED else 0)
        if body + size > end:
            raise InputError(path, f"has a MATLAB data element at byte {at} that runs past its end (truncated?)")
        found.append((kind, body, size))
        at = at_next
    return found


def _check_mat5_matrix(path: Path, data: bytes, start: int, end: int, order: str, depth: int) -> None:
    """One miMATRIX: array flags, dimensions and name of the right types, a known class, an imaginary part
    where the complex flag says so, and only numeric elements or (in cells and structs) further arrays."""
    if depth > 16:
        raise InputError(path, "its MATLAB arrays are nested more than 16 deep")
    parts = _mat5_elements(path, data, start, end, order)
    if not parts:
        return  # an empty array (as in an empty cell)
    where = f"the MATLAB array at byte {start - 8}"
    if parts[0][0] != 6 or parts[0][2] != 8:
        raise InputError(path, f"{where} has no array flags")
    flags = struct.unpack_from(order + "I", data, parts[0][1])[0]
    mx_class, complex_flag = flags & 0xFF, bool(flags & 0x0800)
    if not 1 <= mx_class <= 17:
        raise InputError(path, f"{where} has the unknown class {mx_class}")
    if mx_class != 17 and (len(parts) < 3 or parts[1][0] != 5 or parts[2][0] != 1):
        raise InputError(path, f"{where} lacks its dimensions or name")
    if complex_flag and 5 <= mx_class <= 15 and len(parts) < (7 if mx_class == 5 else 5):
        raise InputError(path, f"{where} is marked complex but has no imaginary part")
    for kind, body, size in parts[3:]:
        if kind == MI_MATRIX and mx_class in (1, 2, 3, 17):
            _check_mat5_matrix(path, data, body, body + size, order, depth + 1)
        elif kind not in MI_NUMERIC:
            raise InputError(path, f"{where} holds a data element of type {kind}")


def _read_v5(path: Path) -> tuple[np.ndarray, np.ndarray]:
    mat_header(path)
    try:
        content = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001  (scipy raises many types for a non-.mat file)
        raise InputError(path, f"cannot be read as a MATLAB file ({type(err).__name__})") from err
    key = "V" if "V" in content else "Y" if "Y" in content else None
    if key is None:
        raise InputError(path, "has no 'V' or 'Y' array of whole-body views")
    if "diaginfo" not in content:
        raise InputError(path, "has no 'diaginfo' struct with the knee codes")
    info = content["diaginfo"]
    if not hasattr(info, "kneejointid"):
        raise InputError(path, "has a 'diaginfo' without 'kneejointid'")
    return np.asarray(content[key]), np.asarray(info.kneejointid)


def _read_v73(path: Path) -> tuple[np.ndarray, np.ndarray]:
    mat_header(path)
    try:
        with h5py.File(path, "r") as mat:
            key = "V" if "V" in mat else "Y" if "Y" in mat else None
            if key is None:
                raise InputError(path, "has no 'V' or 'Y' array of whole-body views")
            if "diaginfo" not in mat or not isinstance(mat["diaginfo"], h5py.Group):
                raise InputError(path, "has no 'diaginfo' struct with the knee codes")
            if "kneejointid" not in mat["diaginfo"]:
                raise InputError(path, "has a 'diaginfo' without 'kneejointid'")
            views, codes = mat[key], mat["diaginfo"]["kneejointid"]
            if not (isinstance(views, h5py.Dataset) and isinstance(codes, h5py.Dataset)):
                raise InputError(path, f"has '{key}' or 'diaginfo.kneejointid' that is not an array")
            check_pixels(path, codes.shape, codes.dtype.itemsize)
            # HDF5 holds MATLAB's column-major arrays transposed.
            return np.asarray(views).T, np.asarray(codes).T
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001  (h5py raises OSError, KeyError, ValueError, TypeError on damaged files)
        raise InputError(path, f"cannot be read as a MATLAB v7.3 file ({type(err).__name__})") from err


def _views(path: Path, array: np.ndarray) -> np.ndarray:
    if array.shape != (*VIEW_SHAPE, 2):
        shape = " x ".join(str(s) for s in array.shape)
        raise InputError(path, f"has views of shape {shape}, expected 1024 x 256 x 2 (anterior, posterior)")
    if not np.issubdtype(array.dtype, np.number):
        raise InputError(path, f"has views of type {array.dtype}, expected numbers")
    views = np.ascontiguousarray(np.moveaxis(array, 2, 0), dtype=np.float32)
    if not np.isfinite(views).all() or views.min() < 0:
        raise InputError(path, "has views with negative, NaN or infinite counts")
    return views


def _codes(path: Path, codes: np.ndarray) -> tuple[int, int]:
    flat = np.asarray(codes, dtype=np.float64).ravel()
    if flat.size != 2:
        raise InputError(path, f"has {flat.size} knee codes in diaginfo.kneejointid, expected 2 (right, left)")
    if not np.isfinite(flat).all() or (flat != np.round(flat)).any() or flat.min() < -1 or flat.max() > 6:
        raise InputError(path, f"has knee codes {flat.tolist()} outside -1..6 in diaginfo.kneejointid")
    return int(flat[0]), int(flat[1])


def write_bone_mat(path: str | Path, views: np.ndarray, knee_codes: tuple[int, int], version: str = "v5") -> Path:
    """Write ``views`` (2, 1024, 256) and [right, left] ``knee_codes`` as the study's .mat format, atomically."""
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {', '.join(VERSIONS)}, not {version!r}")
    views = np.asarray(views)
    if views.shape != (2, *VIEW_SHAPE):
        raise ValueError(f"views must be (2, 1024, 256), not {views.shape}")
    if any(code not in CODE_NAMES for code in knee_codes) or len(knee_codes) != 2:
        raise ValueError(f"knee_codes must be two of {sorted(CODE_NAMES)}, not {knee_codes}")
    array = np.moveaxis(np.clip(np.rint(views), 0, 65535).astype(np.uint16), 0, 2)
    codes = np.array([knee_codes], dtype=np.float64)
    names = [CODE_NAMES[c] for c in knee_codes]
    with atomic_path(path) as tmp:
        if version == "v5":
            names_cell = np.empty((1, 2), dtype=object)
            names_cell[0, :] = names
            scipy.io.savemat(tmp, {"V": array, "diaginfo": {"kneejointid": codes, "kneejointname": names_cell}},
                             format="5", do_compression=True)
            with open(tmp, "r+b") as handle:  # scipy writes the creation time; same input, same bytes
                handle.write(_MAT5_HEADER.ljust(116, b" "))
        else:
            _write_v73(tmp, array, codes, names)
    return Path(path)


def _char(text: str) -> np.ndarray:
    return np.array([[ord(c)] for c in text], dtype=np.uint16)


def _write_v73(path: Path, array: np.ndarray, codes: np.ndarray, names: list[str]) -> None:
    with h5py.File(path, "w", userblock_size=512) as mat:
        v = mat.create_dataset("V", data=array.T, compression="gzip")
        v.attrs["MATLAB_class"] = np.bytes_("uint16")
        info = mat.create_group("diaginfo")
        info.attrs["MATLAB_class"] = np.bytes_("struct")
        ids = info.create_dataset("kneejointid", data=codes.T)
        ids.attrs["MATLAB_class"] = np.bytes_("double")
        refs = mat.create_group("#refs#")
        cells = []
        for i, name in enumerate(names):
            text = refs.create_dataset(f"name{i}", data=_char(name))
            text.attrs["MATLAB_class"] = np.bytes_("char")
            text.attrs["MATLAB_int_decode"] = np.int32(2)
            cells.append(text.ref)
        cell = info.create_dataset("kneejointname", data=np.array(cells, dtype=h5py.ref_dtype).reshape(2, 1))
        cell.attrs["MATLAB_class"] = np.bytes_("cell")
    with open(path, "r+b") as handle:
        handle.write(_MAT73_HEADER.ljust(116, b" ") + bytes(8) + b"\x00\x02IM")


__all__ = ["BoneStudy", "CODE_NAMES", "VERSIONS", "VIEW_SHAPE", "mat_header", "read_bone_mat", "write_bone_mat"]
