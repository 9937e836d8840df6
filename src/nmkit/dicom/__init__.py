"""DICOM results (SEG, measurement SR, Secondary Capture, derived PT series) and the DICOM node.

Import from the modules (``nmkit.dicom.results``, ``.seg``, ``.sr``, ``.sc``, ``.pt``, ``.node``...); this root
stays free of pydicom and highdicom so that the commands' ``--help`` does not load them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nmkit.dicom.results import DicomResults

DICOM_OUT_HELP = ("Also write DICOM results into this folder: SEG, measurement SR and a Secondary Capture of the "
                  "figure, in the input's study (DICOM input only).")


def sources_for(paths: Any, dicom_out: Path | None) -> list[Any] | None:
    """The source datasets of ``paths`` when ``dicom_out`` asks for DICOM results, else None; InputError (one
    sentence) for an input that is not DICOM, before any analysis runs."""
    if dicom_out is None:
        return None
    from nmkit.dicom.source import dicom_sources

    return dicom_sources(paths)


def results_zip(upload: Path, out: Path, options: dict[str, Any], build: Callable[[list[Any]], DicomResults],
                name: str = "dicom-results.zip") -> list[str]:
    """For a DICOM ``upload``, when ``options["dicom_results"]`` asks (the web server does): the SEG/SR/SC that
    ``build(sources)`` describes, zipped into ``out/name``; returns ``[name]``, else ``[]`` (no DICOM download)."""
    import tempfile
    import zipfile

    from nmkit.atomic import atomic_path
    from nmkit.dicom.results import write_results
    from nmkit.dicom.source import dicom_sources
    from nmkit.errors import InputError
    from nmkit.io import detect_format

    if not options.get("dicom_results"):
        return []
    try:
        is_dicom = detect_format(upload) == "dicom"
    except InputError:  # a format only a workflow reads (e.g. a study .mat)
        is_dicom = False
    if not is_dicom:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        written = write_results(build(dicom_sources(upload)), tmp)
        with atomic_path(Path(out) / name) as part, zipfile.ZipFile(part, "w") as archive:
            for path in written.values():
                archive.write(path, path.name)
    return [name]


def save_results(results: DicomResults, dicom_out: Path) -> dict[str, str]:
    """Write ``results`` as SEG/SR/SC into ``dicom_out``; ``{kind: path}`` as JSON-ready strings."""
    from nmkit.dicom.results import write_results

    return {kind: str(path) for kind, path in write_results(results, dicom_out).items()}
