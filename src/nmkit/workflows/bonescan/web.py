"""The bonescan workflow on the web page: both knees found and graded for degenerative joint disease."""

from __future__ import annotations

from pathlib import Path

from nmkit.dicom import results_zip
from nmkit.web.analysis import Number, Outcome, Probe, RunContext, WebAnalysis, one_bundle
from nmkit.workflows.bonescan import MAX_PIXEL_MB
from nmkit.workflows.bonescan.analyse import KneeDJD, load_bonescan_model
from nmkit.workflows.bonescan.dicom_results import dicom_results
from nmkit.workflows.bonescan.data import load_scan


def claims(probe: Probe) -> bool:
    """A study .mat, or a whole-body NM DICOM (anterior, and posterior if present)."""
    if probe.format == "mat":
        return True
    if probe.format != "dicom" or probe.modality != "NM" or probe.n_frames > 2:
        return False
    return probe.whole_body or probe.shape[1] >= 2 * probe.shape[2]


def run(ctx: RunContext) -> Outcome:
    net, info = ctx.model
    ctx.progress("finding and grading the knees", 0.3)
    scan = load_scan(ctx.upload)
    scan.path = Path(ctx.name)  # a label for figures and messages only; nothing is opened by it
    analysis = KneeDJD(scan).analyze(net, info)
    analysis.plot_analyzed_image(ctx.out / "scan.knees.png")
    result = analysis.results_data().as_dict()
    numbers = [Number(f"knees.{i}.grade", f"{knee['side']} knee DJD grade", knee["grade"], knee["grade_name"])
               for i, knee in enumerate(result["knees"])]
    dicom = results_zip(ctx.upload, ctx.out, ctx.options, lambda sources: dicom_results(analysis, sources, info))
    return Outcome(result, numbers, ["scan.knees.png"], downloads=dicom)


WEB = WebAnalysis("bonescan", "Bone scan: knee degenerative joint disease",
                  "a whole-body Tc-99m bone scan: NM DICOM or a study .mat", claims, one_bundle(load_bonescan_model), run,
                  max_pixel_mb=MAX_PIXEL_MB)
