"""What an analysis hands to the DICOM writers: its numbers, words, masks, figure and model, and the source.

A workflow fills one :class:`DicomResults`; :func:`write_results` turns it into a SEG (when it has masks), a
TID 1500 measurement SR and a Secondary Capture of its figure (when it has one), all in the source's study.
"""

from __future__ import annotations

import contextlib
import hashlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import nmkit
from nmkit.atomic import atomic_path

PRIVATE_SCHEME = "99NMKIT"
"""Coding scheme of nmkit's own concepts (a private scheme, as PS3.16 8.2 allows, for what has no standard code)."""


@dataclass(frozen=True)
class Concept:
    """A coded concept: ``code`` in ``scheme`` (nmkit's private one by default), shown as ``meaning``."""

    code: str
    meaning: str
    scheme: str = PRIVATE_SCHEME


@dataclass(frozen=True)
class Number:
    """A measurement: ``concept`` = ``value`` in the UCUM ``unit`` (e.g. "%", "1", "{SUVbw}g/ml")."""

    concept: Concept
    value: float
    unit: str
    unit_meaning: str = ""


@dataclass(frozen=True)
class Word:
    """A qualitative evaluation: ``concept`` is ``value`` (e.g. QC verdict is fail)."""

    concept: Concept
    value: Concept


@dataclass
class Segment:
    """A binary mask (frames, rows, cols) on the source frames, with what it shows."""

    label: str
    mask: np.ndarray
    category: Concept
    kind: Concept


@dataclass(frozen=True)
class ModelIdentity:
    """The model behind a result: registry name, nmkit version and the SHA-256 of the bundle file."""

    name: str
    version: str
    sha256: str

    @classmethod
    def from_info(cls, info: dict[str, Any] | None) -> ModelIdentity:
        """From a bundle's ``info`` (``model_name``, ``model_path``) as nmkit's loaders return it."""
        info = info or {}
        path = info.get("model_path")
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest() if path and Path(path).is_file() else "unknown"
        return cls(name=str(info.get("model_name", "unknown")), version=f"nmkit {nmkit.__version__}", sha256=digest)


@dataclass
class DicomResults:
    """One analysis' results for DICOM: ``sources`` are the analysed instances (their study is kept)."""

    title: Concept
    sources: list[Dataset]
    model: ModelIdentity
    numbers: list[Number] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    figure: str | Path | None = None
    description: str = ""


def write_results(results: DicomResults, out_dir: str | Path) -> dict[str, Path]:
    """Write the SEG, the SR and the Secondary Capture that ``results`` call for into ``out_dir``, atomically.

    Files are named after the first source's SOP Instance UID (``<uid>.seg.dcm``, ``.sr.dcm``, ``.sc.dcm``), so
    two inputs never write the same name; returns {"seg"|"sr"|"sc": path}.
    """
    from nmkit.dicom.sc import write_secondary_capture
    from nmkit.dicom.seg import write_segmentation
    from nmkit.dicom.sr import write_measurement_report

    out_dir = Path(out_dir)
    stem = str(results.sources[0].SOPInstanceUID)
    written = {}
    if results.segments:
        written["seg"] = write_segmentation(results, out_dir / f"{stem}.seg.dcm")
    written["sr"] = write_measurement_report(results, out_dir / f"{stem}.sr.dcm")
    if results.figure is not None:
        written["sc"] = write_secondary_capture(results, out_dir / f"{stem}.sc.dcm")
    return written


def save(ds: Dataset, path: str | Path) -> Path:
    """Write a built DICOM object to ``path`` atomically (DICOM file format, with its meta information)."""
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return Path(path)


def references(sources: list[Dataset]) -> Sequence:
    """One item (ReferencedSOPClassUID, ReferencedSOPInstanceUID) per source instance."""
    items = []
    for ds in sources:
        item = Dataset()
        item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
        items.append(item)
    return Sequence(items)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """highdicom warns about one-word patient names, which phantoms and anonymised studies have."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*person name.*", category=UserWarning)
        yield


def content_key(results: DicomResults, kind: str) -> tuple[str, ...]:
    """What a derived object's UIDs are made from: its source instances, the model and the kind of object, so the
    same study analysed by the same model gives the same UIDs (a PACS replaces rather than duplicates)."""
    return (kind, results.model.sha256, *(str(ds.SOPInstanceUID) for ds in results.sources))


def combined_identity(identities: list[ModelIdentity]) -> ModelIdentity:
    """Several models behind one result (e.g. a segmenter and a classifier): names and hashes joined by '+'."""
    if len(identities) == 1:
        return identities[0]
    return ModelIdentity(name=" + ".join(i.name for i in identities), version=identities[0].version,
                         sha256="+".join(i.sha256 for i in identities))

