"""Turn files and folders into analysis items: one per file, one per DICOM series spread over several files."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from nmkit.errors import InputError


@dataclass(frozen=True)
class Item:
    """One thing to analyse: ``path`` is a file, or the folder holding exactly one DICOM series; ``key`` is its
    path relative to the common folder of all sources, so outputs named by it never overwrite each other."""

    key: str
    path: Path
    error: str | None = None  # a problem found while discovering (the item is reported, not analysed)


def discover(sources: list[Path], group_series: bool = False, group_frames: bool = False) -> list[Item]:
    """The items under ``sources`` in a stable order; InputError when a source does not exist.

    With ``group_series`` (a workflow that reads a volume of single-slice instances, e.g. PET), the DICOM files of
    one series become one item: their folder. With ``group_frames`` (a workflow that never takes one 2-D image,
    e.g. gbp), the 2-D PNG/TIFF/JPEG and NumPy frames of one folder become one item: that folder. Otherwise every
    file is an item.
    """
    files: list[Path] = []
    for source in sources:
        source = Path(source)
        if source.is_dir():
            files += sorted(p for p in source.rglob("*") if p.is_file() and not _hidden(p, source))
        elif source.is_file():
            files.append(source)
        else:
            raise InputError(source, "file or folder not found")
    files = list(dict.fromkeys(p.resolve() for p in files))
    if not files:
        raise InputError(", ".join(map(str, sources)), "holds no files")
    root = Path(os.path.commonpath([p.parent for p in files]))
    series: dict[str, list[Path]] = defaultdict(list)
    frames: dict[Path, list[Path]] = defaultdict(list)
    items: list[Item] = []
    for path in files:
        uid = _series_uid(path) if group_series else None
        if uid is not None:
            series[uid].append(path)
        elif group_frames and _is_frame(path):
            frames[path.parent].append(path)
        else:
            items.append(Item(_key(path, root), path))
    for uid, members in series.items():
        items.append(_series_item(uid, members, root))
    for folder, members in frames.items():
        items.append(_frames_item(folder, members, root))
    return sorted(items, key=lambda item: item.key)


def _frames_item(folder: Path, members: list[Path], root: Path) -> Item:
    others = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p not in members]
    if others:
        return Item(_key(folder, root), folder, f"holds 2-D frames and other files ({others[0].name}); give the "
                                                f"frames of one study a folder of their own")
    return Item(_key(folder, root), folder)


def _is_frame(path: Path) -> bool:
    """A 2-D PNG/TIFF/JPEG image or 2-D NumPy array: one frame of a study kept as a folder of frames."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith((b"\x89PNG", b"II*\x00", b"MM\x00*", b"\xff\xd8\xff")):
        return True
    if head.startswith(b"\x93NUMPY"):
        import numpy as np

        try:
            return np.load(path, mmap_mode="r", allow_pickle=False).ndim == 2
        except (ValueError, OSError):
            return False
    return False


def _series_item(uid: str, members: list[Path], root: Path) -> Item:
    if len(members) == 1:
        return Item(_key(members[0], root), members[0])
    folders = {p.parent for p in members}
    folder = folders.pop()
    key = _key(folder, root)
    if folders:
        return Item(key, folder, f"series {uid} is spread over several folders; put its files in one folder")
    others = [p for p in folder.iterdir() if p.is_file() and p not in members and _series_uid(p) is not None]
    if others:
        return Item(key, folder, f"the folder holds more than one DICOM series ({others[0].name} is another); "
                                 f"give each series a folder of its own")
    return Item(key, folder)


def _series_uid(path: Path) -> str | None:
    """The SeriesInstanceUID of a DICOM file whose instances are single slices (a series to read as one); None for
    anything else (a multi-frame DICOM file is an item by itself)."""
    with open(path, "rb") as handle:
        if handle.read(132)[128:] != b"DICM":
            return None
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SeriesInstanceUID", "NumberOfFrames"])
    except Exception:  # noqa: BLE001 - an unreadable file becomes its own item and gets its reader's error
        return None
    if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
        return None
    return str(getattr(ds, "SeriesInstanceUID", "")) or None


def _key(path: Path, root: Path) -> str:
    key = path.relative_to(root).as_posix()
    return key if key != "." else path.name


def _hidden(path: Path, source: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(source).parts)
