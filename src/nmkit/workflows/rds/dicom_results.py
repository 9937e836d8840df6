"""RDS results as DICOM: P(RDS) in a measurement SR, the lung mask as a SEG, the outlined lungs as SC."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage
from pydicom.dataset import Dataset

from nmkit.dicom.results import Concept, DicomResults, ModelIdentity, Number, Segment, combined_identity
from nmkit.dicom.route import Outcome, Route
from nmkit.errors import InputError
from nmkit.report.figures import contour_figure
from nmkit.workflows.rds.prepare import read_radiograph

TITLE = Concept("DXNEORDS", "Neonatal RDS on chest radiograph")


def dicom_results_of_prediction(path: str | Path, result: dict[str, Any], models: dict[str, tuple[Any, dict]],
                                sources: list[Dataset], out: str | Path) -> DicomResults:
    """The SEG/SR/SC content of ``predict_image``'s ``result`` for the radiograph at ``path`` (its lung mask PNG
    read back); the outlined lungs are drawn to ``out/<name>.lungs-outline.png`` for the SC."""
    grey = read_radiograph(path)
    with PILImage.open(result["mask_png"]) as png:
        mask = np.asarray(png) > 0
    p = result["rds_probability"]
    figure = contour_figure(grey, {"lungs": mask}, Path(out) / f"{Path(path).stem}.lungs-outline.png",
                            f"{Path(path).name}: lungs; P(RDS) {'-' if p is None else f'{p:.3f}'}",
                            image_label="grey level")
    numbers = [Number(Concept("LUNGAREA", "Lung area"), result["lung_area_px"], "{pixels}", "pixels")]
    if p is not None:
        numbers.append(Number(Concept("PRDS", "RDS probability"), p, "1", "no units"))
    segment = Segment("Lungs", mask[None], Concept("91723000", "Anatomical Structure", "SCT"),
                      Concept("39607008", "Lung", "SCT"))
    model = combined_identity([ModelIdentity.from_info(models[role][1])
                               for role in ("segmenter", "lungs") if role in models])
    return DicomResults(title=TITLE, sources=sources, model=model, numbers=numbers, segments=[segment],
                        figure=figure)


RADIOGRAPHS = ("1.2.840.10008.5.1.4.1.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1.1", "1.2.840.10008.5.1.4.1.1.1")
"""DX For Presentation, DX For Processing, CR."""


def is_radiograph(header: Dataset) -> bool:
    return header.get("Modality") in ("DX", "CR")


def node_route(data_dir: Path) -> Route:
    """The node's rds entry: a chest radiograph (one instance) -> lung mask and P(RDS) with the shipped models."""
    from nmkit.dicom.source import dicom_sources
    from nmkit.workflows.rds.evaluate import load_rds_models, predict_image

    models = functools.cache(lambda: load_rds_models(None))

    def analyse(files: list[Path], out: Path) -> Outcome:
        if len(files) != 1:
            raise InputError(files[0].parent, f"holds {len(files)} radiographs; send each as its own series")
        result = predict_image(files[0], models(), out)
        result["mask_png"] = Path(result["mask_png"]).name
        dicom = dicom_results_of_prediction(files[0], result | {"mask_png": out / result["mask_png"]}, models(),
                                            dicom_sources(files[0]), out)
        return Outcome(result, dicom)

    return Route("rds", RADIOGRAPHS, is_radiograph, analyse)
