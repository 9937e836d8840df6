"""RDS results as DICOM: P(RDS) in a measurement SR, the lung mask as a SEG, the outlined lungs as SC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage
from pydicom.dataset import Dataset

from nmkit.dicom.results import Concept, DicomResults, ModelIdentity, Number, Segment, combined_identity
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
