"""The rds workflow on the web page: the lung mask over the radiograph and the RDS probability."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage

from nmkit.dicom import results_zip
from nmkit.report.figures import contour_figure
from nmkit.web.analysis import Number, Outcome, Probe, RunContext, WebAnalysis
from nmkit.workflows.rds import MAX_PIXEL_MB
from nmkit.workflows.rds.dicom_results import dicom_results_of_prediction
from nmkit.workflows.rds.evaluate import load_rds_models, predict_image
from nmkit.workflows.rds.prepare import read_radiograph


def claims(probe: Probe) -> bool:
    """One 2-D radiograph: DX/CR DICOM, or a grey PNG/JPEG/TIFF."""
    if probe.n_frames != 1:
        return False
    if probe.format == "dicom":
        return probe.modality in ("DX", "CR", "DR", "RG")
    return probe.format == "raster"


def load(paths: list[Path]) -> Any:
    return load_rds_models(paths)


def run(ctx: RunContext) -> Outcome:
    ctx.progress("segmenting the lungs", 0.2)
    result = predict_image(ctx.upload, ctx.model, ctx.out)
    mask = np.asarray(PILImage.open(result["mask_png"])) > 0
    contour_figure(read_radiograph(ctx.upload), {"lungs": mask}, ctx.out / "chest.lungs.png",
                   "predicted lungs", image_label="grey level")
    numbers = [Number("lung_area_px", "lung area", result["lung_area_px"], "pixels")]
    if result["rds_probability"] is not None:
        numbers.insert(0, Number("rds_probability", "RDS probability", round(result["rds_probability"], 4)))
    dicom = results_zip(ctx.upload, ctx.out, ctx.options, lambda sources: dicom_results_of_prediction(
        ctx.upload, result, ctx.model, sources, ctx.out))
    return Outcome(result, numbers, ["chest.lungs.png"], downloads=[Path(result["mask_png"]).name, *dicom])


WEB = WebAnalysis("rds", "Neonatal chest X-ray: RDS",
                  "a neonatal chest radiograph: DX/CR DICOM or a grey PNG", claims, load, run,
                  max_pixel_mb=MAX_PIXEL_MB)
