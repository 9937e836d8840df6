"""The source instances a DICOM result refers to: the analysed file, or every file of the analysed folder.

Results of an input that is not DICOM (PNG, NIfTI, .npy, .mat, a phantom) are refused rather than attached to a
made-up patient and study: a PACS files a result by the study it belongs to, and an invented one would file it
nowhere useful, or in the wrong place.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydicom.dataset import Dataset

from nmkit.errors import InputError
from nmkit.io import detect_format, read_dicom_dataset

TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime", "StudyID",
         "AccessionNumber", "ReferringPhysicianName")
NOT_DICOM = ("is not DICOM, so --dicom-out has no patient and study to attach results to; give the DICOM study or "
             "leave out --dicom-out")


def dicom_sources(paths: str | Path | Iterable[str | Path], not_dicom: str = NOT_DICOM) -> list[Dataset]:
    """The DICOM datasets (with pixels) of ``paths``: files, or folders of one series' files, in the given order
    (a folder's files sorted by name); InputError naming the first input that is not DICOM (``not_dicom``)."""
    items = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    files: list[Path] = []
    for item in items:
        files += sorted(p for p in item.iterdir() if p.is_file() and not p.name.startswith(".")) \
            if item.is_dir() else [item]
    if not files:
        raise InputError(items[0] if items else None, "holds no files")
    for path in files:
        if detect_format(path) != "dicom":
            raise InputError(path, not_dicom)
    return [with_type2_attributes(read_dicom_dataset(path)) for path in files]


def with_type2_attributes(ds: Dataset) -> Dataset:
    """``ds`` with the patient and study attributes every derived object must carry (type 2: present, maybe
    empty) added empty where the source lacks them, as anonymised and phantom studies often do."""
    for keyword in TYPE2:
        if keyword not in ds:
            setattr(ds, keyword, "")
    return ds
