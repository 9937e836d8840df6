"""Data preparation as the study: radiograph (DICOM or PNG) -> 8-bit PNG, lung masks from the LabelMe polygons,
the CSV (filepath, rds, exist_json, roi_area, height, width) and the 5-group split by lung area balanced for RDS.

DICOM pixels go through the file's window (WindowCenter/WindowWidth; the 0.5-99.5th percentiles when it has
none) to 0..255, and MONOCHROME1 images are inverted so that dense is white, as in every PNG nmkit writes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage

from nmkit.atomic import atomic_dir
from nmkit.errors import InputError
from nmkit.io import load_image, read_dicom_dataset, read_labelme
from nmkit.io._common import LUMA_NOTE
from nmkit.phantoms.chest import LUNG_LABEL, read_chest_csv

N_GROUPS = 5
GROUP_SPLITS = ("train", "train", "train", "val", "test")
"""The study's use of the five groups: three to train, one to validate, one to test."""
PREPARED_COLUMNS = ("filepath", "rds", "exist_json", "roi_area", "height", "width", "group", "split", "mask", "json",
                    "grade", "has_device")


def window_to_uint8(pixels: np.ndarray, window: tuple[float, float] | None = None,
                    photometric: str = "MONOCHROME2") -> np.ndarray:
    """Pixels through a linear window (centre, width) to 0..255; MONOCHROME1 is inverted (dense = white)."""
    values = np.asarray(pixels, dtype=np.float64)
    if window is None:
        low, high = np.percentile(values, (0.5, 99.5))
    else:
        centre, width = window
        low, high = centre - width / 2, centre + width / 2
    scaled = np.clip((values - low) / max(high - low, 1e-9), 0.0, 1.0)
    if photometric == "MONOCHROME1":
        scaled = 1.0 - scaled
    return np.rint(scaled * 255).astype(np.uint8)


def dicom_window(path: Path) -> tuple[float, float] | None:
    """The file's first (WindowCenter, WindowWidth), or None when it has no usable window."""
    ds = read_dicom_dataset(path, stop_before_pixels=True)
    try:
        centre, width = (float(v[0] if type(v).__name__ == "MultiValue" else v)
                         for v in (ds.WindowCenter, ds.WindowWidth))
    except (AttributeError, TypeError, ValueError):
        return None
    return (centre, width) if width > 0 else None


def read_radiograph(path: str | Path) -> np.ndarray:
    """One grey radiograph as (H, W) uint8, dense = white; InputError for colour, 3-D or constant images."""
    path = Path(path)
    image = load_image(path)
    if image.metadata.get("conversion_note") == LUMA_NOTE:
        raise InputError(path, "is a colour image; a chest radiograph must be grey")
    if image.n_frames != 1:
        raise InputError(path, f"holds {image.n_frames} frames or slices; a chest radiograph is one 2-D image")
    pixels = image.array[0]
    if float(pixels.max()) == float(pixels.min()):
        raise InputError(path, "is a constant image")
    if image.metadata.get("format") == "dicom":
        return window_to_uint8(pixels, dicom_window(path), image.metadata.get("photometric_interpretation") or "")
    if image.metadata.get("mode") == "L":
        return pixels.astype(np.uint8)
    return window_to_uint8(pixels)


def check_polygons_inside(path: str | Path, shape: tuple[int, int]) -> None:
    """InputError when any point of a LabelMe file lies outside the (H, W) image (half a pixel of slack)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        points = [np.asarray(s["points"], dtype=np.float64).reshape(-1, 2) for s in doc["shapes"]]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise InputError(path, f"is not a LabelMe file with polygon points ({type(err).__name__})") from err
    for i, p in enumerate(points, start=1):
        if len(p) and (p.min() < -0.5 or p[:, 0].max() > shape[1] - 0.5 or p[:, 1].max() > shape[0] - 0.5):
            raise InputError(path, f"shape {i} has a point outside the {shape[0]} x {shape[1]} image")


def lung_mask_from_json(path: str | Path, shape: tuple[int, int]) -> np.ndarray:
    """The union of the file's lung polygons as an (H, W) bool mask; InputError when outside or empty."""
    check_polygons_inside(path, shape)
    mask = read_labelme(path, shape, LUNG_LABEL)
    if not mask.any():
        raise InputError(path, "its lung polygons enclose no pixel (empty mask)")
    return mask


def split_by_lung_area(roi_area, rds, seed: int = 0, n_groups: int = N_GROUPS) -> np.ndarray:
    """Group (0..n_groups-1) of each image: within each RDS class, images sorted by lung area are dealt in
    consecutive blocks of ``n_groups``, one to each group in a seeded random order, so every group spans the
    range of lung areas and holds the same share of RDS (to within one image per class)."""
    area, label = np.asarray(roi_area, dtype=np.float64), np.asarray(rds, dtype=np.int64)
    rng = np.random.default_rng(seed)
    groups = np.empty(len(area), dtype=np.int64)
    for cls in (0, 1):
        order = np.flatnonzero(label == cls)
        order = order[np.argsort(area[order], kind="stable")]
        for start in range(0, len(order), n_groups):
            block = order[start:start + n_groups]
            groups[block] = rng.permutation(n_groups)[:len(block)]
    return groups


def prepare_set(src: str | Path, out: str | Path, seed: int = 0) -> Path:
    """Convert a set written by `nmkit rds synth` (or any folder with the study's ``dataset.csv`` and LabelMe
    files) into ``out``: ``png/`` (8-bit), ``masks/`` (0/255 PNG), ``json/`` and ``dataset.csv`` with
    roi_area from the polygons and the group (0-4) and split (train/val/test) of each image."""
    src, out = Path(src), Path(out)
    records = read_chest_csv(src / "dataset.csv")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        header = (out / "dataset.csv").read_text().partition("\n")[0].strip() if (out / "dataset.csv").is_file() else ""
        if header != ",".join(PREPARED_COLUMNS):
            raise InputError(out, "exists and holds no prepared set (dataset.csv with a split); choose a new or "
                                  "empty folder")
    rows: list[dict[str, Any]] = []
    with atomic_dir(out) as tmp:
        for folder in ("png", "masks", "json"):
            (tmp / folder).mkdir()
        for rec in records:
            stem = Path(rec["filepath"]).stem
            grey = read_radiograph(src / rec["filepath"])
            json_src = src / rec.get("json", f"json/{stem}.json")
            if not json_src.is_file():
                raise InputError(json_src, "lung polygon file not found")
            mask = lung_mask_from_json(json_src, grey.shape)
            PILImage.fromarray(grey).save(tmp / f"png/{stem}.png")
            PILImage.fromarray(mask.astype(np.uint8) * 255).save(tmp / f"masks/{stem}.png")
            doc = json.loads(json_src.read_text(encoding="utf-8"))
            doc["imagePath"] = f"../png/{stem}.png"
            (tmp / f"json/{stem}.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
            rows.append({"filepath": f"png/{stem}.png", "rds": rec["rds"], "exist_json": 1,
                         "roi_area": int(mask.sum()), "height": grey.shape[0], "width": grey.shape[1],
                         "mask": f"masks/{stem}.png", "json": f"json/{stem}.json", "grade": rec.get("grade", ""),
                         "has_device": rec.get("has_device", "")})
        groups = split_by_lung_area([r["roi_area"] for r in rows], [r["rds"] for r in rows], seed)
        for row, group in zip(rows, groups):
            row["group"], row["split"] = int(group), GROUP_SPLITS[group]
        with (tmp / "dataset.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=PREPARED_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    return out
