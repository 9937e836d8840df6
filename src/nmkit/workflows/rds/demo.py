"""The rds part of `nmkit demo`: phantom radiographs with their true lungs and, with the shipped models, the
predicted lungs and P(RDS); real radiographs (the adult CR RG1_UNCI.dcm from pydicom-data through DICOM -> PNG, and
two paediatric Kermany radiographs beside a checkout) with their predicted lungs (no manual masks: shown, not
scored); and the study's 5-group split."""

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
KERMANY = Path(__file__).resolve().parents[5] / "shared" / "data" / "cxr" / "kermany"
"""Two real paediatric radiographs beside a checkout (../shared/data); absent in an installed package."""


def _real_radiographs() -> dict[str, tuple[Path, str]]:
    """Real radiographs to show (name -> (path, what it is)): the adult CR RG1_UNCI.dcm from pydicom-data when that
    test package is installed, and the two paediatric Kermany radiographs when the checkout has the shared data
    folder beside it (:data:`KERMANY`)."""
    found: dict[str, tuple[Path, str]] = {}
    try:
        from pydicom.data import get_testdata_file

        rg1 = get_testdata_file("RG1_UNCI.dcm")
        if rg1:
            found["RG1_UNCI.dcm (pydicom-data)"] = (Path(rg1), "adult, CR, MONOCHROME1")
    except Exception:  # noqa: BLE001  (pydicom-data absent or its store unreadable)
        pass
    for path in sorted(KERMANY.glob("*.jpeg")) if KERMANY.is_dir() else []:
        found[f"{path.name} (Kermany 2018, CC BY 4.0)"] = (path, "paediatric, JPEG")
    return found


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
    real_rows = []
    for index, (name, (path, kind)) in enumerate(_real_radiographs().items()):
        grey = read_radiograph(path)
        title = f"{name}: {kind}"
        figure = out / f"real_{index}.png"
        if models is None:
            figures.append(overlay_figure(grey, None, figure, title, image_label="grey (8-bit, dense = white)"))
        else:
            lungs = segment_lungs(models["segmenter"][0], grey.astype(np.float32) / 255.0)[0]
            figures.append(contour_figure(grey, {"predicted lungs": lungs}, figure, title,
                                          image_label="grey (8-bit, dense = white)"))
        window = dicom_window(path) if path.suffix == ".dcm" else None
        real_rows.append({"file": name, "size": f"{grey.shape[0]} x {grey.shape[1]}", "kind": kind,
                          "window (centre, width)": str(window),
                          "scored": "no (no manual lung mask; look at the outline)" if models is not None else
                          "no (no rds model installed)"})
    tables = [gallery_rows, split_rows] + ([real_rows] if real_rows else [])
    done = ("The shipped models (see default_model/MODEL_CARD.md) outline the lungs of each image and give P(RDS) "
            "for the phantoms; the real radiographs are segmented but not scored (they have no manual masks here; "
            "the segmenter's Dice on real adult radiographs with manual masks is in BENCHMARKS.md)."
            if models is not None else "No rds model is installed, so nothing is segmented or scored here.")
    text = (f"Phantom neonatal chest radiographs ({ChestSpec().shape[0]} px) with their true lung masks, RDS grades "
            "I-IV as ground-glass opacity with air bronchograms, and devices; the study's split into five groups by "
            "lung area balanced for RDS (3 train, 1 val, 1 test); real radiographs (an adult CR through the study's "
            f"DICOM -> PNG conversion: window, MONOCHROME1 inverted; paediatric JPEGs where present). {done}")
    return [Section("rds: neonatal RDS on chest X-ray", text, tables, [*figures, split_figure])]
