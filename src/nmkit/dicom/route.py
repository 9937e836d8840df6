"""The routing table: which workflow analyses a received series, decided by the series' content.

Each workflow feeds the table one :class:`Route` (what it accepts, how it analyses a series); this module knows
no workflow. A series mixing modalities, or one no route accepts, is refused with one sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from nmkit.dicom.results import DicomResults
from nmkit.errors import InputError


@dataclass
class Outcome:
    """What analysing one series gave: the JSON result (as the CLI prints it), the DICOM results, and further
    DICOM files to send on (e.g. a derived PT series)."""

    result: dict[str, Any]
    dicom: DicomResults | None = None
    extra_files: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class Route:
    """One workflow's entry: the SOP classes it takes, ``accepts(header)`` on the series' first instance, and
    ``analyse(files, out_dir)`` of the series' files, writing any figure into ``out_dir``."""

    workflow: str
    sop_classes: tuple[str, ...]
    accepts: Callable[[Dataset], bool]
    analyse: Callable[[list[Path], Path], Outcome]


def image_type(ds: Dataset) -> list[str]:
    """The ImageType values, upper-case."""
    value = ds.get("ImageType") or []
    return [str(v).strip().upper() for v in (value if isinstance(value, (list, tuple)) or
                                             type(value).__name__ == "MultiValue" else [value])]


class Router:
    """Choose the route of a series from its instances' headers (first accepting route in table order)."""

    def __init__(self, routes: list[Route]):
        self.routes = list(routes)

    @property
    def sop_classes(self) -> list[str]:
        return sorted({uid for route in self.routes for uid in route.sop_classes})

    def __call__(self, headers: list[Dataset], where: str | Path) -> Route:
        modalities = sorted({str(ds.get("Modality", "") or "none") for ds in headers})
        if len(modalities) > 1:
            raise InputError(where, f"mixes modalities ({', '.join(modalities)}); a series must hold one")
        for route in self.routes:
            if all(str(ds.SOPClassUID) in route.sop_classes for ds in headers) and route.accepts(headers[0]):
                return route
        raise InputError(where, f"is a {modalities[0]} series no workflow takes "
                                f"({', '.join(r.workflow for r in self.routes)})")
