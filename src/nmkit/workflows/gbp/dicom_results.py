"""LVEF results as DICOM: the numbers in a measurement SR, the LV ROI on every frame as a SEG, the ROIs as SC."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import NuclearMedicineImageStorage

from nmkit.dicom.results import Concept, DicomResults, ModelIdentity, Number, Segment
from nmkit.dicom.route import Outcome, Route, image_type
from nmkit.errors import InputError
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


def is_gated(header: Dataset) -> bool:
    """A multi-frame NM study with time slots (ImageType GATED, or NumberOfTimeSlots)."""
    return header.get("Modality") == "NM" and int(header.get("NumberOfFrames") or 1) > 1 and (
        "GATED" in image_type(header) or "NumberOfTimeSlots" in header)


def node_route(data_dir: Path) -> Route:
    """The node's gbp entry: a gated study (one multi-frame instance) -> GatedEF with the paper's background."""
    from nmkit.dicom.source import dicom_sources
    from nmkit.workflows.gbp.analyse import load_gbp_model

    model = functools.cache(load_gbp_model)

    def analyse(files: list[Path], out: Path) -> Outcome:
        if len(files) != 1:
            raise InputError(files[0].parent, f"holds {len(files)} instances; the node takes a gated study as one "
                                              "multi-frame instance")
        net, info = model()
        analysis = GatedEF(files[0]).analyze(net, info)
        analysis.plot_analyzed_image(out / "gated.rois.png")
        analysis.plot_curve(out / "gated.curve.png")
        result = analysis.results_data().as_dict() | {"overlay_png": "gated.rois.png", "curve_png": "gated.curve.png"}
        return Outcome(result, dicom_results(analysis, dicom_sources(files[0]), info))

    return Route("gbp", (NuclearMedicineImageStorage,), is_gated, analyse)
