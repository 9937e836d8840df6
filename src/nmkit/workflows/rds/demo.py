"""The rds part of `nmkit demo`, without a trained model: phantom radiographs with their true lungs, the real
adult chest radiograph RG1_UNCI.dcm (pydicom-data) through DICOM -> PNG, and the study's 5-group split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nmkit.phantoms.chest import ChestSpec, generate_chest_xray, to_png8
from nmkit.report.figures import bar_figure, contour_figure, overlay_figure
from nmkit.report.html import Section
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


def _gallery(out: Path) -> tuple[list[dict], list[Path]]:
    """A normal and the RDS grades of the phantom, each with its true lung outline."""
    spec, rows, figures, wanted = ChestSpec(), [], [], [0, 1, 2, 3, 4]
    for i in range(200):
        xray = generate_chest_xray(spec, SEED, i)
        if xray.grade not in wanted or xray.rotated:
            continue
        wanted.remove(xray.grade)
        title = f"RDS grade {'I II III IV'.split()[xray.grade - 1]}" if xray.rds else "no RDS"
        figures.append(contour_figure(to_png8(xray.pixels), {"true lungs": xray.lung_mask},
                                      out / f"phantom_{i:03d}.png", f"phantom {i}: {title}",
                                      image_label="grey (8-bit)"))
        rows.append({"phantom": i, "RDS": title, "devices": ", ".join(xray.devices) or "none",
                     "lung area px": int(xray.lung_mask.sum()),
                     "size": f"{xray.pixels.shape[0]} x {xray.pixels.shape[1]}"})
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
    """Phantom gallery, the real radiograph's conversion and the split; no model is needed."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    gallery_rows, figures = _gallery(out)
    split_rows, split_figure = _split(out)
    tables = [gallery_rows, split_rows]
    real = _real_radiograph()
    if real is not None:
        grey = read_radiograph(real)
        window = dicom_window(real)
        figures.append(overlay_figure(grey, None, out / "rg1_unci.png", "RG1_UNCI.dcm (adult, CR, MONOCHROME1) as PNG",
                                      image_label="grey (8-bit, dense = white)"))
        tables.append([{"file": "RG1_UNCI.dcm (pydicom-data)", "size": f"{grey.shape[0]} x {grey.shape[1]}",
                        "window (centre, width)": str(window), "photometric": "MONOCHROME1 (inverted)",
                        "scored": "no (no label; no shipped model yet)"}])
    text = (f"Phantom neonatal chest radiographs ({ChestSpec().shape[0]} px) with their true lung masks, RDS grades "
            "I-IV as ground-glass opacity with air bronchograms, and devices; the study's split into five groups by "
            "lung area balanced for RDS (3 train, 1 val, 1 test); a real adult radiograph through the study's "
            "DICOM -> PNG conversion (window, MONOCHROME1 inverted). No rds model is shipped yet, so nothing is "
            "segmented or scored here.")
    return [Section("rds: neonatal RDS on chest X-ray", text, tables, [*figures, split_figure])]
