"""The bonescan part of `nmkit demo`: knees found on the real NM1 whole-body scan and on a phantom, graded
when a model is available."""

from __future__ import annotations

from pathlib import Path

from nmkit.errors import InputError
from nmkit.io.matlab import write_bone_mat
from nmkit.phantoms.bone import GRADE_NAMES, BoneSpec, generate_bone_scan
from nmkit.report.html import Section
from nmkit.workflows.bonescan.analyse import KneeDJD, knee_overlay_figure, load_bonescan_model

PHANTOM_SEED = 7


def _real_scan() -> Path | None:
    """The NEMA NM1 whole-body bone scan from pydicom-data, when that test package is installed."""
    try:
        from pydicom.data import get_testdata_file

        found = get_testdata_file("JPEG-LL.dcm")
    except Exception:  # noqa: BLE001  (pydicom-data absent or its store unreadable)
        return None
    return Path(found) if found else None


def bonescan_demo(out: Path, model_path: str | Path | None = None) -> list[Section]:
    """Find and (with a model) grade the knees of the real NM1 scan and of one phantom scan."""
    out = Path(out)
    try:
        model, info = load_bonescan_model(model_path)
    except InputError:
        model, info = None, {}
    scan = generate_bone_scan(BoneSpec(), PHANTOM_SEED)
    phantom_file = write_bone_mat(out / "bonescan_phantom.mat", scan.views, scan.codes)
    samples = [("phantom scan", phantom_file, scan.grades)]
    real = _real_scan()
    if real is not None:
        samples.insert(0, ("NM1 real whole-body bone scan (pydicom-data JPEG-LL.dcm)", real, None))
    rows, figures = [], []
    for title, path, truth in samples:
        analysis = KneeDJD(path)
        png = out / f"bonescan_{Path(path).stem}.knees.png"
        if model is not None:
            analysis.analyze(model, info)
            figures.append(analysis.plot_analyzed_image(png))
            knees = analysis.results_data().knees
        else:
            figures.append(knee_overlay_figure(analysis.scan.anterior, analysis.knees,
                                               [f"{k.side} knee" for k in analysis.knees], png, f"{title}: knees"))
            knees = [k.as_dict() for k in analysis.knees]
        for i, knee in enumerate(knees):
            row = {"scan": title, "side": knee["side"], "row": knee["row"], "col": knee["col"]}
            if truth is not None:
                row["true grade"] = GRADE_NAMES[truth[i]] if truth[i] >= 0 else "unspecified"
            if model is not None:
                row["AI grade"] = knee["grade_name"]
            rows.append(row)
    text = ("Both knees found from the anatomy (crop centres in full-image pixels, 0-based; the patient's right "
            "knee is on the image left of an anterior view). "
            + (f"Grades from {Path(info['model_path']).name} (trained on phantoms, not patients)." if model is not None
               else "No bonescan model is shipped, so the knees are located but not graded."))
    return [Section("bonescan: knee degenerative joint disease", text, [rows], figures)]
