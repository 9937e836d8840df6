"""The gbp workflow on the web page: LV ROIs on every frame, ED/ES, background and LV ejection fraction."""

from __future__ import annotations

from pathlib import Path

from nmkit.dicom import results_zip
from nmkit.web.analysis import Number, Outcome, Probe, RunContext, WebAnalysis, mark_domain, one_bundle
from nmkit.workflows.gbp import MAX_PIXEL_MB
from nmkit.workflows.gbp.analyse import GatedEF, load_gated_study, load_gbp_model
from nmkit.workflows.gbp.dicom_results import dicom_results


def claims(probe: Probe) -> bool:
    """A stack of 8 to 64 frames: a gated NM DICOM, or NIfTI/NumPy frames."""
    if not 8 <= probe.n_frames <= 64:
        return False
    if probe.format == "dicom":  # not what the file says is a dynamic series, SPECT projections or slices (QC battery)
        image_type = " ".join(str(v).upper() for v in probe.metadata.get("image_type") or [])
        return probe.modality == "NM" and "DYNAMIC" not in image_type and "TOMO" not in image_type \
            and not probe.steps_by_slice
    return probe.format in ("nifti", "npy") and probe.modality != "PT"


def run(ctx: RunContext) -> Outcome:
    net, info = ctx.model
    ctx.progress("segmenting the LV on every frame", 0.2)
    study = load_gated_study(ctx.probe.image)
    study.path = Path(ctx.name)  # a label for figures and messages only; nothing is opened by it
    analysis = GatedEF(study, background=ctx.options.get("gbp_background", "study")).analyze(net, info)
    ctx.progress("drawing the ROIs and the curve", 0.7)
    analysis.plot_analyzed_image(ctx.out / "study.rois.png")
    analysis.plot_curve(ctx.out / "study.curve.png")
    result = analysis.results_data().as_dict()
    numbers = [Number("ef", "LV ejection fraction", result["ef"], "%"),
               Number("ed_frame", "ED frame", result["ed_frame"]), Number("es_frame", "ES frame", result["es_frame"]),
               Number("background_per_pixel", "background", result["background_per_pixel"], "counts/pixel")]
    if result["ef_low"] is not None:
        numbers.insert(1, Number("ef_interval", f"LVEF {100 * result['ef_interval_level']:.0f} % interval",
                                 f"{result['ef_low']:.1f}-{result['ef_high']:.1f}", "%"))
    numbers = mark_domain(result, numbers, ("ef", "ef_interval"))
    dicom = results_zip(ctx.upload, ctx.out, ctx.options, lambda sources: dicom_results(analysis, sources, info))
    return Outcome(result, numbers, ["study.rois.png", "study.curve.png"], downloads=dicom)


WEB = WebAnalysis("gbp", "Gated blood pool: LV ejection fraction",
                  "an ECG-gated planar study: multi-frame NM DICOM, NIfTI or .npy", claims, one_bundle(load_gbp_model), run,
                  max_pixel_mb=MAX_PIXEL_MB)
