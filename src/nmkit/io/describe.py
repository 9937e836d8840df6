"""What a file is, from its content: the facts a workflow's gate decides on, and one phrase naming it.

``describe(image)`` reads the DICOM header facts the readers keep in ``Image.metadata`` (Modality, ImageType,
frame count, photometric interpretation, units, gating) and a few pixel statistics (value range, whether the
values are whole numbers, how many distinct values, how flat the field is). It knows no workflow: each
workflow's ``gate.py`` turns a :class:`Description` into an :class:`Admission`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from nmkit.errors import InputError
from nmkit.io.image import Image

RADIOGRAPH_MODALITIES = ("DX", "CR", "RG", "DR")
FLAT_TOLERANCE = 0.25  # a field pixel is "flat" within +-25 % of the field's median (binned to ~64 px across)
FIELD_FRACTION = 0.1  # background below this fraction of the 99th percentile is outside the field
MODALITY_NAMES = {"NM": "nuclear medicine", "PT": "PET", "CT": "CT", "MR": "MR", "DX": "digital radiograph",
                  "CR": "computed radiograph", "RG": "radiograph", "US": "ultrasound", "MG": "mammogram",
                  "SEG": "segmentation", "OT": "other"}


@dataclass(frozen=True)
class Description:
    """The facts about one image that say what it is (``phrase`` names it in words)."""

    format: str  # dicom, metaimage, nifti, raster, npy, tiff, ... or "array" for an in-memory image
    modality: str | None  # DICOM Modality; None where the format has none
    image_type: tuple[str, ...]
    n_frames: int
    rows: int
    cols: int
    photometric: str | None
    units: str | None
    spacing_known: bool
    colour: bool  # converted from colour to grey on reading
    integer_valued: bool
    non_negative: bool
    distinct_values: int  # counted up to 257
    value_min: float
    value_max: float
    field_fraction: float  # share of the image inside the field (above 10 % of the 99th percentile)
    flat_fraction: float  # share of the field's binned pixels within +-25 % of its median

    def has_type(self, *words: str) -> bool:
        """True when any of ``words`` is a value of DICOM ImageType (e.g. "WHOLE BODY", "GATED")."""
        return any(word in self.image_type for word in words)

    @property
    def gated(self) -> bool:
        return self.has_type("GATED")

    @property
    def whole_body(self) -> bool:
        return self.has_type("WHOLE BODY")

    @property
    def tomographic(self) -> bool:
        return self.has_type("RECON TOMO", "TOMO", "RECON GATED TOMO", "GATED TOMO", "AXIAL")

    @property
    def dynamic(self) -> bool:
        return self.has_type("DYNAMIC")

    @property
    def binary(self) -> bool:
        """Two values or fewer: a mask, not an image."""
        return self.distinct_values <= 2

    @property
    def counts_like(self) -> bool:
        """Whole, non-negative numbers: what a gamma camera records."""
        return self.integer_valued and self.non_negative and not self.binary

    @property
    def flat_field(self) -> bool:
        """Nearly all of a sizeable field within +-25 % of its median: a flood, not an anatomy or a phantom."""
        return self.field_fraction >= 0.1 and self.flat_fraction >= 0.95

    @property
    def phrase(self) -> str:
        """e.g. "an NM whole-body image (2 frames of 1024 x 256)", "a PT image (1 frame of 168 x 168, BQML)"."""
        size = f"{self.n_frames} frame{'s' if self.n_frames != 1 else ''} of {self.rows} x {self.cols}"
        if self.modality:
            kind = next((name for flag, name in (
                (self.whole_body, "whole-body image"), (self.tomographic, "reconstructed tomographic volume"),
                (self.gated, "gated study"), (self.dynamic, "dynamic series")) if flag), "image")
            extra = f", {self.units}" if self.units else ""
            return f"{_article(self.modality)} {self.modality} ({MODALITY_NAMES.get(self.modality, 'DICOM')}) " \
                   f"{kind} ({size}{extra})"
        if self.colour:
            return f"a colour image ({self.format}, {size})"
        if self.binary:
            return f"a binary mask ({self.format}, {size}, {self.distinct_values} values)"
        return f"a grey image ({self.format}, {size}, values {self.value_min:g} to {self.value_max:g})"


@dataclass(frozen=True)
class Admission:
    """A gate's answer: whether the workflow takes the image, what the image is, what the command takes,
    and (when refused) why."""

    accepted: bool
    what: str
    takes: str
    why: str = ""

    def sentence(self, command: str) -> str:
        """One sentence (without the file name): what the file is and what ``command`` takes."""
        why = f", {self.why}" if self.why else ""
        return f"is {self.what}{why}, but {command} takes {self.takes}"

    def enforce(self, source: str | Path | None, command: str, force: bool | None = False) -> str | None:
        """None when accepted; with ``force`` the note to put in the result; else InputError (exit 2, HTTP 422).
        ``force=None``: the command has no --force (and the message does not offer it)."""
        if self.accepted:
            return None
        if force:
            return f"analysed with --force: the file {self.sentence(command)}"
        hint = "" if force is None else "; --force analyses it anyway"
        raise InputError(source, f"{self.sentence(command)}{hint}")


def describe(image: Image) -> Description:
    """The :class:`Description` of an image as a reader returned it."""
    meta = image.metadata
    pixels = image.array
    sample = pixels[: min(len(pixels), 4)]
    distinct = len(np.unique(sample.ravel()[:: max(1, sample.size // 200_000)])[:257])
    field, flat = _field_statistics(pixels[0])
    modality = meta.get("modality") if meta.get("format") == "dicom" else None
    if modality is None and image.modality not in ("", "OT") and meta.get("format") in (None, "nifti"):
        modality = image.modality  # an in-memory or NIfTI image whose maker named its modality
    return Description(
        format=str(meta.get("format") or "array"), modality=modality or None,
        image_type=tuple(str(v).upper() for v in meta.get("image_type") or ()), n_frames=image.n_frames,
        rows=int(pixels.shape[1]), cols=int(pixels.shape[2]), photometric=meta.get("photometric_interpretation"),
        units=meta.get("units"), spacing_known=bool(meta.get("spacing_known", True)),
        colour="colour" in str(meta.get("conversion_note", "")), integer_valued=bool(np.all(sample == np.round(sample))),
        non_negative=bool(pixels.min() >= 0), distinct_values=distinct, value_min=float(pixels.min()),
        value_max=float(pixels.max()), field_fraction=field, flat_fraction=flat)


def _field_statistics(frame: np.ndarray) -> tuple[float, float]:
    """(share of the image in the field, share of the field's ~64-px-binned pixels within +-25 % of the median)."""
    frame = np.asarray(frame, dtype=np.float64)
    top = float(np.percentile(frame, 99))
    if top <= 0:
        return 0.0, 0.0
    field = ndimage.binary_fill_holes(frame > FIELD_FRACTION * top)
    k = max(1, round(max(frame.shape) / 64))
    rows, cols = frame.shape[0] // k, frame.shape[1] // k
    if rows == 0 or cols == 0:
        return float(field.mean()), 0.0
    binned = frame[: rows * k, : cols * k].reshape(rows, k, cols, k).mean(axis=(1, 3))
    whole = field[: rows * k, : cols * k].reshape(rows, k, cols, k).all(axis=(1, 3))
    values = binned[whole]
    if values.size == 0 or np.median(values) <= 0:
        return float(field.mean()), 0.0
    return float(field.mean()), float(np.mean(np.abs(values / np.median(values) - 1) <= FLAT_TOLERANCE))


def _article(word: str) -> str:
    return "an" if word[:1].upper() in "AEFHILMNORSX" else "a"
