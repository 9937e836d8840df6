"""The pet workflow on the web page: the predicted delayed SUV volume, a slice viewer and the NIfTI."""

from __future__ import annotations

import numpy as np

from nmkit.report.figures import image_row_figure
from nmkit.web.analysis import Number, Outcome, Probe, RunContext, WebAnalysis, one_bundle
from nmkit.workflows.pet import MAX_PIXEL_MB
from nmkit.workflows.pet.analyse import load_early, load_pet_model, predict_early


def claims(probe: Probe) -> bool:
    """A PET volume: PT DICOM, or a NIfTI volume of more than 64 slices (or tagged PT)."""
    if probe.format == "dicom":
        return probe.modality == "PT"
    return probe.format == "nifti" and (probe.modality == "PT" or probe.n_frames > 64)


def _bytes(volume: np.ndarray, suv_max: float) -> bytes:
    """The volume as uint8 (0 .. ``suv_max`` SUV), slice after slice, for the page's viewer."""
    return (np.clip(volume / suv_max, 0, 1) * 255).round().astype(np.uint8).tobytes()


def run(ctx: RunContext) -> Outcome:
    generator, _ = ctx.model
    ctx.progress("predicting the delayed volume", 0.2)
    image = load_early(ctx.upload)
    result, delayed = predict_early(image, ctx.upload, ctx.out / "predicted-delayed.nii.gz", generator)
    ctx.progress("drawing the slices", 0.7)
    early = image.array
    suv_max = max(float(np.percentile(early, 99.9)), float(np.percentile(delayed, 99.9)), 1.0)
    image_row_figure({"early (input)": early.max(axis=1), "predicted delayed": delayed.max(axis=1)},
                     ctx.out / "pet.mip.png", "coronal maximum-intensity projections", "SUVbw", vmax=suv_max)
    (ctx.out / "early.u8").write_bytes(_bytes(early, suv_max))
    (ctx.out / "delayed.u8").write_bytes(_bytes(delayed, suv_max))
    numbers = [Number("early_suv_max", "early SUVmax", round(result["early_suv_max"], 3), "SUVbw"),
               Number("predicted_suv_max", "predicted delayed SUVmax", round(result["predicted_suv_max"], 3), "SUVbw"),
               Number("predicted_suv_mean_body", "predicted delayed SUVmean (body)",
                      round(result["predicted_suv_mean_body"], 3), "SUVbw")]
    viewer = {"shape": list(delayed.shape), "suv_max": round(suv_max, 3),
              "volumes": {"early (input)": "early.u8", "predicted delayed": "delayed.u8"}}
    return Outcome(result, numbers, ["pet.mip.png"], downloads=["predicted-delayed.nii.gz"], viewer=viewer)


WEB = WebAnalysis("pet", "FDG PET: predicted delayed phase",
                  "an early FDG PET volume in SUVbw: NIfTI, or multi-frame PT DICOM", claims, one_bundle(load_pet_model), run,
                  max_pixel_mb=MAX_PIXEL_MB)
