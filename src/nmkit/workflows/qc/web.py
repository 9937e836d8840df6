"""The qc workflow on the web page: a flood's NEMA uniformity, AI verdict and defect map; and the QC battery's
count rate, centre of rotation and SPECT phantom (tomographic uniformity and contrast) where the DICOM says what
the file is. Each check is added to the QC history (``options["qc_history"]``) with its camera and head."""

from __future__ import annotations

from pathlib import Path

from nmkit.dicom import results_zip
from nmkit.web.analysis import Number, Outcome, Probe, RunContext, WebAnalysis, mark_domain, one_bundle
from nmkit.workflows.qc import MAX_PIXEL_MB
from nmkit.workflows.qc.analyse import FloodQC, load_qc_model
from nmkit.workflows.qc.dicom_results import dicom_results


def claims(probe: Probe) -> bool:
    """One planar frame: an NM DICOM that is not a whole-body scan, or a 2-D PNG/TIFF/NumPy image; or a STATIC NM
    DICOM of one frame per head (a dual-head flood)."""
    if probe.format == "dicom":
        per_head = _image_type(probe) == "STATIC" and probe.n_frames == len(probe.metadata.get("detector_ids") or [])
        return (probe.n_frames == 1 or per_head) and probe.modality == "NM" and not probe.whole_body \
            and max(probe.shape[1:]) < 2 * min(probe.shape[1:])
    return probe.n_frames == 1 and probe.format in ("raster", "npy")


def run(ctx: RunContext) -> Outcome:
    """One flood; a file of several heads gives ``{"heads": [...]}`` with one check per head."""
    from nmkit.workflows.qc.battery._frames import head_images

    image = ctx.probe.image
    image.path = Path(ctx.name)  # a label for figures and messages only; nothing is opened by it
    heads = head_images(image, header_path=ctx.upload)
    if not heads:
        result, numbers, qc = _check(ctx, image, "flood.qc.png", "")
        info = ctx.model[1]
        dicom = results_zip(ctx.upload, ctx.out, ctx.options, lambda sources: dicom_results(qc, sources, info))
        return Outcome(result, numbers, ["flood.qc.png"], verdict=result["verdict"], downloads=dicom)
    results, numbers = [], []
    for group, head in heads:
        result, shown, _ = _check(ctx, head, f"flood.{group.tag}.qc.png", f"head {group.detector}: ")
        results.append(result | {"detector": group.detector, "energy_window": group.energy_window})
        numbers += shown
    verdict = "fail" if any(r["verdict"] == "fail" for r in results) else "pass"
    return Outcome({"heads": results}, numbers, [r["map_png"] for r in results], verdict=verdict)


def _check(ctx: RunContext, image, figure: str, prefix: str) -> tuple[dict, list[Number], FloodQC]:
    net, info = ctx.model
    qc = FloodQC(image, iu_limit=ctx.options.get("iu_limit", 5.0),
                 du_limit=ctx.options.get("du_limit")).analyze(net, info)
    ctx.progress("drawing the defect map", 0.7)
    qc.plot_analyzed_image(ctx.out / figure)
    result = qc.results_data().as_dict() | {"map_png": figure}
    history = ctx.options.get("qc_history")
    if history is not None:
        result["history_id"] = history.record(result, image.metadata, ctx.upload, file_name=ctx.name)
    numbers = [Number(k, prefix + label, result[k], "%") for k, label in (
        ("ufov_iu", "UFOV integral uniformity"), ("ufov_du", "UFOV differential uniformity"),
        ("cfov_iu", "CFOV integral uniformity"), ("cfov_du", "CFOV differential uniformity"))]
    numbers.append(Number("defect_probability", prefix + "AI defect probability", result["defect_probability"]))
    return result, mark_domain(result, numbers, ("defect_probability",)), qc


WEB = WebAnalysis("qc", "Flood-field uniformity QC",
                  "an intrinsic or extrinsic flood: NM DICOM, PNG/TIFF or .npy", claims, one_bundle(load_qc_model), run,
                  max_pixel_mb=MAX_PIXEL_MB)


# --- QC battery files, recognised by what the DICOM says it is (ImageType), one result per head and window.

def _image_type(probe: Probe) -> str:
    values = [str(v).upper() for v in probe.metadata.get("image_type") or []]
    return values[2] if len(values) > 2 else ""


def claims_countrate(probe: Probe) -> bool:
    """An NM DICOM whose ImageType says DYNAMIC, of two frames or more."""
    return probe.format == "dicom" and probe.modality == "NM" and _image_type(probe) == "DYNAMIC" and probe.n_frames > 1


def claims_cor(probe: Probe) -> bool:
    """NM DICOM projections: ImageType TOMO (not a reconstruction)."""
    return probe.format == "dicom" and probe.modality == "NM" and _image_type(probe) in ("TOMO", "GATED TOMO")


def claims_tomo(probe: Probe) -> bool:
    """A reconstructed NM SPECT volume: ImageType RECON TOMO, or frames that the header steps through by
    SliceVector alone (the NM reconstruction's frame pointer); three slices or more."""
    return probe.format == "dicom" and probe.modality == "NM" and probe.n_frames >= 3 \
        and (_image_type(probe) == "RECON TOMO" or probe.steps_by_slice)


def _run_battery(ctx: RunContext, test: str, analysis: type, headline: list[tuple[str, str, str]]) -> Outcome:
    from nmkit.workflows.qc.battery._frames import Acquisition

    image = ctx.probe.image
    image.path = Path(ctx.name)  # a label for figures and messages only
    analyses = [qc.analyze() for qc in analysis.per_head(Acquisition(image, header_path=ctx.upload))]
    ctx.progress("drawing the figures", 0.7)
    history = ctx.options.get("qc_history")
    results, numbers, figures = [], [], []
    for qc in analyses:
        figure = f"{qc.group.tag}.{test}.png"
        qc.plot_analyzed_image(ctx.out / figure)
        result = qc.results_data().as_dict() | {"figure_png": figure}
        if history is not None:
            result["history_id"] = history.record_battery(test, result, ctx.probe.metadata, ctx.upload,
                                                          qc.group.detector, qc.group.energy_window, file_name=ctx.name)
        prefix = f"head {qc.group.detector}: " if len(analyses) > 1 else ""
        numbers += [Number(key, prefix + label, result[key], unit) for key, label, unit in headline
                    if result[key] is not None]
        results.append(result)
        figures.append(figure)
    return Outcome({"heads": results}, numbers, figures)


def run_countrate(ctx: RunContext) -> Outcome:
    from nmkit.workflows.qc.battery.countrate import CountRateQC

    return _run_battery(ctx, "countrate", CountRateQC, [("max_cps", "maximum count rate", "cps"),
                                                        ("max_frame", "frame of the maximum (0-based)", "")])


def run_cor(ctx: RunContext) -> Outcome:
    from nmkit.workflows.qc.battery.cor import CenterOfRotationQC

    return _run_battery(ctx, "cor", CenterOfRotationQC, [("offset_mm", "centre-of-rotation offset", "mm"),
                                                         ("x_deviation_mm", "x deviation", "mm"),
                                                         ("y_deviation_mm", "y deviation", "mm")])


def run_tomo(ctx: RunContext) -> Outcome:
    """Tomographic uniformity of the uniform section and, where the volume has a sphere section, the cold-sphere
    contrast: ``{"uniformity": {...}, "contrast": {...}}``, the contrast ``{"skipped": why}`` where it does not
    apply. Each result is stored in the QC history as its command would store it."""
    from nmkit.errors import InputError
    from nmkit.workflows.qc.battery.tomo import TomoContrastQC, TomoUniformityQC
    from nmkit.workflows.qc.history import camera_identity

    image = ctx.probe.image
    image.path = Path(ctx.name)  # a label for figures and messages only
    analyses = {"uniformity": ("tomo-uniformity", TomoUniformityQC(image).analyze())}
    ctx.progress("finding the cold spheres", 0.4)
    try:
        analyses["contrast"] = ("tomo-contrast", TomoContrastQC(image).analyze())
    except InputError as err:  # no sphere section, or no room for the spheres: the contrast test does not apply
        skipped = err.problem
    ctx.progress("drawing the figures", 0.7)
    history = ctx.options.get("qc_history")
    result, figures = {}, []
    for key, (test, qc) in analyses.items():
        figure = f"{test}.png"
        qc.plot_analyzed_image(ctx.out / figure)
        result[key] = qc.results_data().as_dict() | {"figure": figure}
        if history is not None:
            result[key]["history_id"] = history.record_battery(
                test, result[key], image.metadata, ctx.upload, camera_identity(image.metadata)["detector"],
                file_name=ctx.name)
        figures.append(figure)
    uniformity = result["uniformity"]
    numbers = [Number(k, label, uniformity[k], unit) for k, label, unit in (
        ("ufov_iu", "UFOV integral uniformity", "%"), ("ufov_du", "UFOV differential uniformity", "%"),
        ("cfov_iu", "CFOV integral uniformity", "%"), ("cfov_du", "CFOV differential uniformity", "%"),
        ("centre_border_ratio", "centre-to-border ratio", ""))]
    if "contrast" in result:
        numbers += [Number(f"spheres.{i}.contrast", f"{s['diameter_mm']:g} mm sphere contrast", s["contrast"], "%")
                    for i, s in enumerate(result["contrast"]["spheres"])]
    else:
        result["contrast"] = {"skipped": skipped}
        numbers.append(Number("contrast", "cold-sphere contrast", f"not measured: {skipped}"))
    return Outcome(result, numbers, figures)


def _no_model(paths: list[Path]) -> None:
    return None


WEB_COUNTRATE = WebAnalysis("qc-countrate", "Gamma-camera count rate (NEMA NU 1)",
                            "a dynamic NM DICOM of a count-rate test", claims_countrate, _no_model, run_countrate)
WEB_COR = WebAnalysis("qc-cor", "SPECT centre of rotation",
                      "NM DICOM SPECT projections (TOMO) of a point source", claims_cor, _no_model, run_cor)
WEB_TOMO = WebAnalysis("qc-tomo", "SPECT phantom: tomographic uniformity and cold-sphere contrast",
                       "a reconstructed NM SPECT volume (RECON TOMO) of a phantom such as Jaszczak's", claims_tomo,
                       _no_model, run_tomo)
