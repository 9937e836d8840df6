"""Delayed-phase prediction results as DICOM: SUV figures in a measurement SR and the early/predicted MIPs as SC."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import PositronEmissionTomographyImageStorage

from nmkit.dicom.results import Concept, DicomResults, ModelIdentity, Number
from nmkit.dicom.route import Outcome, Route
from nmkit.dicom.source import dicom_sources
from nmkit.errors import InputError
from nmkit.report.figures import image_row_figure

TITLE = Concept("PTDELAYED", "Predicted delayed FDG PET")
SUV = ("{SUVbw}g/ml", "Standardized Uptake Value body weight")


def dicom_results(result: dict[str, Any], early: np.ndarray, delayed: np.ndarray, sources: list[Dataset],
                  info: dict[str, Any] | None, figure: str | Path) -> DicomResults:
    """The SR/SC content of one prediction; the coronal maximum-intensity projections are drawn at ``figure``."""
    image_row_figure({"early": early.max(axis=1), "predicted delayed": delayed.max(axis=1)}, figure,
                     "coronal MIP", "SUVbw")
    numbers = [Number(Concept(code, meaning), result[key], *SUV) for code, meaning, key in (
        ("EARLYSUVMAX", "Early SUVmax", "early_suv_max"),
        ("PREDSUVMAX", "Predicted delayed SUVmax", "predicted_suv_max"),
        ("PREDSUVMEAN", "Predicted delayed SUVmean in the body", "predicted_suv_mean_body"))]
    return DicomResults(title=TITLE, sources=sources, model=ModelIdentity.from_info(info), numbers=numbers,
                        figure=Path(figure))


SERIES, NIFTI = "series", "nifti"


def series_kind(output: Path) -> str:
    """``nifti`` for a .nii/.nii.gz name, else ``series`` (a PT series folder)."""
    return NIFTI if output.name.lower().endswith((".nii", ".nii.gz")) else SERIES


def prediction_target(output: Path) -> str:
    """``nifti`` for a .nii/.nii.gz name, ``series`` for a folder (an existing one, or a name without suffix);
    InputError for any other name (a .dcm file name would hide a whole series behind one name)."""
    if series_kind(output) == NIFTI:
        return NIFTI
    if output.is_dir() or (not output.exists() and not output.suffix):
        if output.is_dir() and any(output.iterdir()):
            raise InputError(output, "is a folder that already holds files; give a new or empty folder for the "
                                     "PT series")
        return SERIES
    raise InputError(output, "is neither a folder (for a PT DICOM series, one file per slice) nor a .nii/.nii.gz "
                             "file; name one of those")


def series_sources(early: Path) -> list[Dataset]:
    """The early series' instances, which a PT series output copies its patient, study and geometry from."""
    return dicom_sources(early, not_dicom="is not DICOM, so the prediction cannot be written as a PT series (it "
                                          "takes the early series' patient, study and geometry); name a .nii.gz "
                                          "output instead")


def predict_to(early: Path, output: Path, model: tuple[Any, dict[str, Any]], sources: list[Dataset] | None,
               dicom_out: Path | None) -> dict[str, Any]:
    """Predict the delayed volume of ``early`` with the loaded ``(generator, info)`` into ``output`` (a PT series
    folder, or NIfTI when it is named .nii/.nii.gz) and, with ``dicom_out``, the SR and SC there; the JSON
    result."""
    from nmkit.dicom import save_results
    from nmkit.dicom.pt import write_pt_series
    from nmkit.workflows.pet.analyse import load_early, predict_early

    generator, info = model
    image = load_early(early)
    series = series_kind(output) == SERIES
    with tempfile.TemporaryDirectory() as tmp:
        result, delayed = predict_early(image, early, Path(tmp) / "delayed.nii" if series else output, generator,
                                        info)
        if series:
            files = write_pt_series(output, delayed, sources, image.metadata["suv"]["suv_factor"],
                                    ModelIdentity.from_info(info))
            result |= {"output": str(output), "format": "dicom", "files": len(files)}
        if dicom_out:
            results = dicom_results(result, image.array, delayed, sources, info, Path(tmp) / "mip.png")
            result["dicom_files"] = save_results(results, dicom_out)
    return result


def is_pet(header: Dataset) -> bool:
    return header.get("Modality") == "PT"


def node_route(data_dir: Path) -> Route:
    """The node's pet entry: an early PT series -> the predicted delayed PT series (sent on), SR and SC."""
    from nmkit.dicom.pt import write_pt_series
    from nmkit.workflows.pet.analyse import load_early, load_pet_model, predict_early

    model = functools.cache(load_pet_model)

    def analyse(files: list[Path], out: Path) -> Outcome:
        generator, info = model()
        image = load_early(files[0].parent)
        result, delayed = predict_early(image, files[0].parent.name, out / "delayed.nii.gz", generator)
        sources = dicom_sources(files)
        series = write_pt_series(out / "delayed", delayed, sources, image.metadata["suv"]["suv_factor"],
                                 ModelIdentity.from_info(info))
        result |= {"output": "delayed", "format": "dicom", "files": len(series), "nifti": "delayed.nii.gz"}
        return Outcome(result, dicom_results(result, image.array, delayed, sources, info, out / "mip.png"), series)

    return Route("pet", (PositronEmissionTomographyImageStorage,), is_pet, analyse)
