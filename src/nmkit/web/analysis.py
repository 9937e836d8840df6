"""What the web server needs from a workflow: how to recognise an upload, load its model, and run it.

Each workflow package has a ``web.py`` holding one :class:`WebAnalysis`; ``nmkit.web.workflows`` lists them.
The ``run`` function calls the same analysis objects as the CLI, so the page and ``--json`` agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nmkit.io import Image


@dataclass
class Probe:
    """What an upload is, read from its content: its format, modality, shape and metadata. The server reads
    only the header; ``image`` (not for .mat) is then decoded by the job, in a worker thread under the
    workflow's pixel cap, before the workflow runs."""

    format: str  # "dicom", "nifti", "raster", "npy" or "mat"
    modality: str | None = None
    shape: tuple[int, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    image: Image | None = None

    @property
    def n_frames(self) -> int:
        return self.shape[0] if self.shape else 0

    @property
    def whole_body(self) -> bool:
        """DICOM ImageType says WHOLE BODY."""
        return "WHOLE BODY" in [v.upper() for v in self.metadata.get("image_type") or []]

    @property
    def steps_by_slice(self) -> bool:
        """DICOM frames stepped through by SliceVector alone: an NM reconstruction's slices."""
        return [str(v) for v in self.metadata.get("frame_increment_pointer") or []] == ["SliceVector"]


@dataclass
class Number:
    """One headline number on the page: ``key`` names it in the CLI's JSON result."""

    key: str
    label: str
    value: Any
    unit: str = ""


@dataclass
class Outcome:
    """A finished analysis: the CLI's JSON, the headline numbers, the figures (PNG names in the job's
    folder), an optional verdict ("pass"/"fail") and optional extra downloads (file names)."""

    result: dict[str, Any]
    numbers: list[Number]
    figures: list[str] = field(default_factory=list)
    verdict: str | None = None
    downloads: list[str] = field(default_factory=list)
    viewer: dict[str, Any] | None = None


@dataclass
class RunContext:
    """Everything one run gets from the server: the upload (stored under a server-chosen name), the name the
    client gave it (for display only), its probe, a folder for outputs, the loaded model, the server's
    analysis options and a progress callback ``progress(stage, fraction)``."""

    upload: Path
    name: str
    probe: Probe
    out: Path
    model: Any
    options: dict[str, Any]
    progress: Callable[[str, float], None] = lambda stage, fraction: None


def one_bundle(loader: Callable[[Path | None], Any]) -> Callable[[list[Path]], Any]:
    """A ``load_model`` for workflows that take one bundle: the first path given, else the shipped default."""
    return lambda paths: loader(paths[0] if paths else None)


@dataclass
class WebAnalysis:
    """One workflow as the web server sees it."""

    key: str
    title: str
    accepts: str
    claims: Callable[[Probe], bool]
    load_model: Callable[[list[Path]], Any]
    run: Callable[[RunContext], Outcome]
    model_required: bool = False  # True when nmkit ships no default model for this workflow
    max_pixel_mb: float = 1024.0  # largest decoded upload (rows x columns x frames x bytes per sample) it takes


def mark_domain(result: dict[str, Any], numbers: list[Number], model_keys: tuple[str, ...]) -> list[Number]:
    """Show a result's in-domain check on the page: each model-made number (``model_keys``) is marked unreliable
    beside its value when ``in_domain`` is false, and a last row says why."""
    if result.get("in_domain", True):
        return numbers
    for number in numbers:
        if number.key in model_keys or any(number.key.startswith(k + ".") for k in model_keys):
            number.label += " (unreliable: outside the model's domain)"
    return [*numbers, Number("in_domain", "in the model's domain", "no: " + "; ".join(result.get("domain_notes", [])))]
