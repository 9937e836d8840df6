"""The qc workflow on the web page: a flood's NEMA uniformity, AI verdict and defect map; each check is
added to the QC history (``options["qc_history"]``) with its camera and head."""

from __future__ import annotations

from pathlib import Path

from nmkit.dicom import results_zip
from nmkit.web.analysis import Number, Outcome, Probe, RunContext, WebAnalysis, one_bundle
from nmkit.workflows.qc.analyse import FloodQC, load_qc_model
from nmkit.workflows.qc.dicom_results import dicom_results


def claims(probe: Probe) -> bool:
    """One planar frame: an NM DICOM that is not a whole-body scan, or a 2-D PNG/TIFF/NumPy image."""
    if probe.n_frames != 1:
        return False
    if probe.format == "dicom":
        return probe.modality == "NM" and not probe.whole_body and max(probe.shape[1:]) < 2 * min(probe.shape[1:])
    return probe.format in ("raster", "npy")


def run(ctx: RunContext) -> Outcome:
    net, info = ctx.model
    image = ctx.probe.image
    image.path = Path(ctx.name)  # a label for figures and messages only; nothing is opened by it
    qc = FloodQC(image, iu_limit=ctx.options.get("iu_limit", 5.0),
                 du_limit=ctx.options.get("du_limit")).analyze(net, info)
    ctx.progress("drawing the defect map", 0.7)
    qc.plot_analyzed_image(ctx.out / "flood.qc.png")
    result = qc.results_data().as_dict()
    history = ctx.options.get("qc_history")
    if history is not None:
        result["history_id"] = history.record(result, ctx.probe.metadata, ctx.upload, file_name=ctx.name)
    numbers = [Number(k, label, result[k], "%") for k, label in (
        ("ufov_iu", "UFOV integral uniformity"), ("ufov_du", "UFOV differential uniformity"),
        ("cfov_iu", "CFOV integral uniformity"), ("cfov_du", "CFOV differential uniformity"))]
    numbers.append(Number("defect_probability", "AI defect probability", result["defect_probability"]))
    dicom = results_zip(ctx.upload, ctx.out, ctx.options, lambda sources: dicom_results(qc, sources, info))
    return Outcome(result, numbers, ["flood.qc.png"], verdict=result["verdict"], downloads=dicom)


WEB = WebAnalysis("qc", "Flood-field uniformity QC",
                  "an intrinsic or extrinsic flood: NM DICOM, PNG/TIFF or .npy", claims, one_bundle(load_qc_model), run)
