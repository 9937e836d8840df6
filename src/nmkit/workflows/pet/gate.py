"""What `nmkit pet predict` takes: an early PET, from its content (see :mod:`nmkit.io.describe`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nmkit.errors import InputError
from nmkit.io import Image, load_image
from nmkit.io.describe import Admission, describe

TAKES = "an early FDG PET: a PT DICOM (a slice or a series folder) or an SUV NIfTI volume"


def admit(image: Image) -> Admission:
    """Accept a PT DICOM, or a NIfTI volume of non-negative values (taken as SUV)."""
    d = describe(image)
    if d.format == "dicom" or d.modality is not None:
        accepted = d.modality == "PT"
        return Admission(accepted, d.phrase, TAKES)
    if d.format != "nifti":
        return Admission(False, d.phrase, TAKES, "neither DICOM nor NIfTI")
    if not d.non_negative:
        return Admission(False, d.phrase, TAKES, "with negative values, which SUV cannot be")
    return Admission(True, d.phrase, TAKES)


def admit_source(source: Path) -> None:
    """Gate a DICOM file, or a series folder by its first readable image; InputError when it is not PT.
    There is no --force: SUV needs the PT tags, so another modality cannot be analysed anyway."""
    files = [source] if source.is_file() else sorted(p for p in source.iterdir() if p.is_file())
    for path in files:
        try:
            image = load_image(path)
        except InputError:
            continue  # a licence or other non-image file beside the slices
        admit(image).enforce(path, "pet predict", force=None)
        return


BODY_SUV_MEAN = (0.2, 5.0)  # mean SUVbw over a patient's body (voxels above the body threshold)
SUV_MAX = 100.0


def implausible(early: np.ndarray, delayed: np.ndarray, body_suv: float) -> list[str]:
    """Why an early volume and its prediction do not look like a patient's FDG SUV (empty when they do)."""
    body = early > body_suv
    notes = []
    for name, volume in (("early", early), ("predicted delayed", delayed)):
        mean = float(volume[body].mean()) if body.any() else 0.0
        if not BODY_SUV_MEAN[0] <= mean <= BODY_SUV_MEAN[1]:
            notes.append(f"{name} body SUV mean {mean:.2f} is outside {BODY_SUV_MEAN[0]:g}-{BODY_SUV_MEAN[1]:g}")
    if float(early.max()) > SUV_MAX:
        notes.append(f"early SUVmax {float(early.max()):.0f} is above {SUV_MAX:g}")
    return notes
