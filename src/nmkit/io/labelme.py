"""LabelMe JSON annotations as binary masks: read, write, mask to polygon, and the observers' consensus.

LabelMe stores points as [x, y] = [column, row] in pixels. Polygons, rectangles (2 corners) and circles
(centre, then a point on the circle) are rasterised; points and lines have no area and are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from skimage.draw import disk, polygon
from skimage.measure import find_contours, label as label_regions

from nmkit.atomic import atomic_path
from nmkit.errors import InputError
from nmkit.io._common import reason, require_file
from nmkit.limits import check_pixels

AREA_TYPES = ("polygon", "rectangle", "circle")
NO_AREA_TYPES = ("point", "points", "line", "linestrip")


def read_labelme(path: str | Path, image_shape: tuple[int, int] | None = None, label: str | None = None) -> np.ndarray:
    """Union of the file's shapes (only those labelled ``label``, case-insensitive, when given) as a bool H x W mask.

    The size comes from the file's imageHeight/imageWidth or ``image_shape``; when both are known they must agree.
    """
    path = require_file(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"is not a LabelMe JSON file ({reason(exc)})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
        raise InputError(path, 'is not a LabelMe file (it has no "shapes" list)')
    shape = _image_shape(doc, image_shape, path)
    check_pixels(path, shape, 1)  # the mask is one byte per pixel
    wanted = None if label is None else label.strip().casefold()
    mask = np.zeros(shape, dtype=bool)
    drawn = 0
    for i, item in enumerate(doc["shapes"], start=1):
        if not isinstance(item, dict):
            raise InputError(path, f"shape {i} is not a JSON object")
        if wanted is not None and str(item.get("label", "")).strip().casefold() != wanted:
            continue
        kind = item.get("shape_type") or "polygon"
        if kind in NO_AREA_TYPES:
            continue
        if kind not in AREA_TYPES:
            raise InputError(path, f"shape {i} has shape_type {kind!r}, which nmkit cannot rasterise "
                                   f"(it reads {', '.join(AREA_TYPES)})")
        _draw(mask, kind, _points(item.get("points"), i, path), i, path)
        drawn += 1
    if not drawn:
        which = f" labelled {label!r}" if label is not None else ""
        raise InputError(path, f"has no polygon, rectangle or circle shape{which}")
    return mask


def _image_shape(doc: dict, image_shape: tuple[int, int] | None, path: Path) -> tuple[int, int]:
    height, width = doc.get("imageHeight"), doc.get("imageWidth")
    if height is None and width is None:
        if image_shape is None:
            raise InputError(path, "does not give the image size (imageHeight/imageWidth) and none was passed")
        return int(image_shape[0]), int(image_shape[1])
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (height, width)):
        raise InputError(path, f"imageHeight/imageWidth must be positive integers, got {height!r}/{width!r}")
    if image_shape is not None and (height, width) != tuple(int(v) for v in image_shape):
        raise InputError(path, f"is drawn on a {height} x {width} image, but the image is "
                               f"{image_shape[0]} x {image_shape[1]}")
    return height, width


def _points(raw, i: int, path: Path) -> np.ndarray:
    """The shape's points as an (K, 2) float array of [x, y]; InputError unless they are finite number pairs."""
    try:
        points = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        points = None
    if points is None or points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
        raise InputError(path, f"shape {i} does not have its points as a list of [x, y] number pairs")
    return points


def _draw(mask: np.ndarray, kind: str, points: np.ndarray, i: int, path: Path) -> None:
    if kind == "polygon":
        if len(points) < 3:
            raise InputError(path, f"shape {i} is a polygon with {len(points)} point(s); it needs at least 3")
        rows, cols = polygon(points[:, 1], points[:, 0], mask.shape)
    elif len(points) != 2:
        raise InputError(path, f"shape {i} is a {kind} with {len(points)} point(s); it needs exactly 2")
    elif kind == "rectangle":
        (x0, y0), (x1, y1) = points
        rows, cols = polygon([y0, y0, y1, y1], [x0, x1, x1, x0], mask.shape)
    else:
        (xc, yc), (xe, ye) = points
        rows, cols = disk((yc, xc), float(np.hypot(xe - xc, ye - yc)), shape=mask.shape)
    mask[rows, cols] = True


def write_labelme(path: str | Path, polygons: Sequence[np.ndarray], image_shape: tuple[int, int],
                  image_path: str = "", label: str = "LV") -> Path:
    """Write polygons ((K, 2) arrays of [x, y]) as a LabelMe 5 file, atomically; returns ``path``."""
    shapes = []
    for poly in polygons:
        points = np.asarray(poly, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3:
            raise ValueError(f"each polygon must be a (K, 2) array of [x, y] with K >= 3, got shape {points.shape}")
        shapes.append({"label": label, "points": points.tolist(), "group_id": None, "shape_type": "polygon",
                       "flags": {}})
    doc = {"version": "5.2.1", "flags": {}, "shapes": shapes, "imagePath": image_path, "imageData": None,
           "imageHeight": int(image_shape[0]), "imageWidth": int(image_shape[1])}
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def mask_to_polygon(mask: np.ndarray) -> np.ndarray:
    """Outer contour of the mask's largest 4-connected region as a (K, 2) array of [x, y] (not repeating point 0).

    The contour runs half-way between inside and outside pixel centres, so rasterising it gives the region back
    (holes filled)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2 or not mask.any():
        raise ValueError("mask_to_polygon needs a 2-D mask with at least one pixel set")
    regions = label_regions(mask, connectivity=1)
    largest = np.argmax(np.bincount(regions.ravel())[1:]) + 1
    padded = np.pad(regions == largest, 1).astype(np.float64)
    contours = find_contours(padded, 0.5)
    outer = max(contours, key=_area)  # the outer contour encloses every hole's contour
    return outer[:-1, ::-1] - 1.0  # (row, col) in the padded frame -> [x, y] in the mask's frame


def _area(contour: np.ndarray) -> float:
    """Area enclosed by a closed contour (shoelace formula)."""
    y, x = contour[:, 0], contour[:, 1]
    return abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))) / 2


def consensus_mask(masks: Sequence[np.ndarray]) -> np.ndarray:
    """Pixels marked by at least half of the observers (per-pixel mean of the binary masks >= 0.5).

    Ties count as inside: with two observers the consensus is their union, with four a pixel marked by two is in."""
    masks = [np.asarray(m, dtype=bool) for m in masks]
    if not masks or masks[0].ndim != 2 or any(m.shape != masks[0].shape for m in masks):
        raise ValueError("consensus_mask needs one or more 2-D masks of the same shape")
    return 2 * np.sum(masks, axis=0) >= len(masks)  # mean >= 0.5, in integers


def read_consensus(paths: Sequence[str | Path], image_shape: tuple[int, int] | None = None,
                   label: str | None = None) -> np.ndarray:
    """The consensus (:func:`consensus_mask`) of several observers' LabelMe files of the same image."""
    if not len(paths):
        raise ValueError("read_consensus needs at least one LabelMe file")
    masks = []
    for path in paths:
        masks.append(read_labelme(path, image_shape, label))
        image_shape = masks[-1].shape  # every later file must be drawn on the same size of image
    return consensus_mask(masks)
