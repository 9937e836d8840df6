"""The rds part of `nmkit demo`: phantom radiographs with their true lungs and, with the shipped models, the
predicted lungs and P(RDS); the real adult chest radiograph RG1_UNCI.dcm (pydicom-data) through DICOM -> PNG and
lung segmentation (no label: shown, not scored); and the study's 5-group split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nmkit.errors import InputError
from nmkit.phantoms.chest import ChestSpec, generate_chest_xray, to_png8
from nmkit.report.figures import bar_figure, contour_figure, overlay_figure
from nmkit.report.html import Section
from nmkit.workflows.rds.evaluate import load_rds_models, lung_rds_probability
from nmkit.workflows.rds.postprocess import segment_lungs
from nmkit.workflows.rds.prepare import GROUP_SPLITS, dicom_window, read_radiograph, split_by_lung_area

SEED = 5
GALLERY_SIZE = 8
SPLIT_SET = (60, 128)
"""Phantoms (number, size in px) split into the study's five groups for the demo."""


def _real_radiograph() -> Path | None:
    """The adult chest radiograph (CR, MONOCHROME1) from pydicom-data, when that test package is installed."""
    try:
        from pydicom.data import get_testdata_file

        found = get_testdata_file("RG1_UNCI.dcm")
    except Exception:  # noqa: BLE001  (pydicom-data absent or its store unreadable)
        return None
    return Path(found) if found else None


def _shipped_models() -> dict | None:
    """The shipped segmenter and lung classifier, or None when they are not installed."""
    try:
        return load_rds_models(None)
    except InputError:
        return None


def _gallery(out: Path, models: dict | None) -> tuple[list[dict], list[Path]]:
    """A normal and the RDS grades of the phantom, each with its true lung outline (and the predicted one and
    P(RDS) with ``models``)."""
    spec, rows, figures, wanted = ChestSpec(), [], [], [0, 1, 2, 3, 4]
    for i in range(200):
        xray = generate_chest_xray(spec, SEED, i)
        if xray.grade not in wanted or xray.rotated:
            continue
        wanted.remove(xray.grade)
        title = f"RDS grade {'I II III IV'.split()[xray.grade - 1]}" if xray.rds else "no RDS"
        grey, masks = to_png8(xray.pixels), {"true lungs": xray.lung_mask}
        row = {"phantom": i, "RDS": title, "devices": ", ".join(xray.devices) or "none",
               "lung area px": int(xray.lung_mask.sum()), "size": f"{xray.pixels.shape[0]} x {xray.pixels.shape[1]}"}
        if models is not None:
            masks["predicted lungs"] = segment_lungs(models["segmenter"][0], grey.astype(np.float32) / 255.0)[0]
            row["P(RDS), shipped model"] = round(lung_rds_probability(models, grey, masks["predicted lungs"]), 3)
        figures.append(contour_figure(grey, masks, out / f"phantom_{i:03d}.png", f"phantom {i}: {title}",
                                      image_label="grey (8-bit)"))
        rows.append(row)
        if not wanted:
            break
    return rows, figures


def _split(out: Path) -> tuple[list[dict], Path]:
    """The study's 5 groups on a small phantom set: size, RDS share and lung area per group."""
    n, size = SPLIT_SET
    spec = ChestSpec(shape=(size, size))
    xrays = [generate_chest_xray(spec, SEED, i) for i in range(n)]
    area, rds = np.array([x.lung_mask.sum() for x in xrays]), np.array([x.rds for x in xrays])
    groups = split_by_lung_area(area, rds, SEED)
    rows = [{"group": g + 1, "use": GROUP_SPLITS[g], "images": int((groups == g).sum()),
             "RDS": int(rds[groups == g].sum()), "mean lung area px": float(area[groups == g].mean())}
            for g in range(len(GROUP_SPLITS))]
    figure = bar_figure([f"{r['group']} ({r['use']})" for r in rows],
                        {"RDS": [r["RDS"] for r in rows], "no RDS": [r["images"] - r["RDS"] for r in rows]},
                        out / "split.png", "group", "images", f"{n} phantoms in 5 groups by lung area")
    return rows, figure


def rds_demo(out: Path) -> list[Section]:
    """Phantom gallery, the real radiograph's conversion (and lungs) and the split; the shipped models are used
    when installed."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    models = _shipped_models()
    gallery_rows, figures = _gallery(out, models)
    split_rows, split_figure = _split(out)
    tables = [gallery_rows, split_rows]
    real = _real_radiograph()
    if real is not None:
        grey = read_radiograph(real)
        window = dicom_window(real)
        title = "RG1_UNCI.dcm (adult, CR, MONOCHROME1) as PNG"
        if models is None:
            figures.append(overlay_figure(grey, None, out / "rg1_unci.png", title,
                                          image_label="grey (8-bit, dense = white)"))
        else:
            lungs = segment_lungs(models["segmenter"][0], grey.astype(np.float32) / 255.0)[0]
            figures.append(contour_figure(grey, {"predicted lungs": lungs}, out / "rg1_unci.png", title,
                                          image_label="grey (8-bit, dense = white)"))
        tables.append([{"file": "RG1_UNCI.dcm (pydicom-data)", "size": f"{grey.shape[0]} x {grey.shape[1]}",
                        "window (centre, width)": str(window), "photometric": "MONOCHROME1 (inverted)",
                        "scored": "no (no label; an adult, not a neonate)" if models is not None else
                        "no (no label; no rds model installed)"}])
    done = ("The shipped models (phantom-trained; see default_model/MODEL_CARD.md) outline the lungs of each image "
            "and give P(RDS) for the phantoms; the real adult radiograph is segmented but not scored."
            if models is not None else "No rds model is installed, so nothing is segmented or scored here.")
    text = (f"Phantom neonatal chest radiographs ({ChestSpec().shape[0]} px) with their true lung masks, RDS grades "
            "I-IV as ground-glass opacity with air bronchograms, and devices; the study's split into five groups by "
            "lung area balanced for RDS (3 train, 1 val, 1 test); a real adult radiograph through the study's "
            f"DICOM -> PNG conversion (window, MONOCHROME1 inverted). {done}")
    return [Section("rds: neonatal RDS on chest X-ray", text, tables, [*figures, split_figure])]
