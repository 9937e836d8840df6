"""LVEF results as DICOM: the numbers in a measurement SR, the LV ROI on every frame as a SEG, the ROIs as SC."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from nmkit.dicom.results import Concept, DicomResults, ModelIdentity, Number, Segment
from nmkit.workflows.gbp.analyse import GatedEF

TITLE = Concept("NMGBPLVEF", "Gated blood pool LV ejection fraction")
ANATOMY = Concept("91723000", "Anatomical Structure", "SCT")


def dicom_results(analysis: GatedEF, sources: list[Dataset], info: dict[str, Any] | None) -> DicomResults:
    """The SEG/SR/SC content of one analysed study (``plot_analyzed_image`` already called for the SC)."""
    r = analysis.results_data()
    numbers = [Number(Concept("10230-1", "Left ventricular Ejection fraction", "LN"), r.ef, "%", "percent"),
               Number(Concept("EDFRAME", "End-diastolic frame"), r.ed_frame, "{frame}", "frame"),
               Number(Concept("ESFRAME", "End-systolic frame"), r.es_frame, "{frame}", "frame"),
               Number(Concept("EDCOUNTS", "End-diastolic net LV counts"), r.ed_counts, "{counts}", "counts"),
               Number(Concept("ESCOUNTS", "End-systolic net LV counts"), r.es_counts, "{counts}", "counts"),
               Number(Concept("BGCOUNTS", "Background counts per pixel"), r.background_per_pixel, "{counts}",
                      "counts")]
    background = np.zeros_like(analysis.masks)
    background[r.es_frame] = analysis.background
    segments = [Segment("LV ROI", analysis.masks, ANATOMY, Concept("87878005", "Left ventricle", "SCT")),
                Segment(f"Background ROI ({r.background_method})", background, ANATOMY,
                        Concept("BGROI", "LV background region"))]
    return DicomResults(title=TITLE, sources=sources, model=ModelIdentity.from_info(info), numbers=numbers,
                        segments=segments, figure=r.overlay_png)
