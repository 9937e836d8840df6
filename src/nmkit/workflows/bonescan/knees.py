"""Find both knees on an anterior whole-body view and cut 128 x 128 crops.

``method="anatomy"`` (default) follows the body: it segments the body (Otsu threshold of the smoothed
log counts), tracks the two legs upwards from the feet to where they join (the crotch), and looks for each
knee as the peak of bone uptake along its leg, around 40 % of the way from the crotch to the sole (the
knee joint sits at 0.715 of body height below the vertex, the crotch at about 0.52). The crop column is the
leg's centre at the knee. It works for any height and position, and raises InputError when it finds no
two legs joining a trunk, or legs too short to hold the knees.

``method="plan"`` is the research plan's heuristic: a band from row 510 (moved down 70 rows when columns
100-149 of row 510 hold no zero), the row of the band's largest value as the crop centre, and columns
0-127 / 128-255 as the two knees. It assumes the study's 1024 x 256 grid and patient position.

Sides are anatomical: on an anterior view the patient's right knee is on the image left. Centres are
(row, col) in full-image pixels, 0-based.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

from nmkit.errors import InputError

CROP = 128
METHODS = ("anatomy", "plan")
SIDES = ("right", "left")
PLAN_BAND_START, PLAN_SHIFT = 510, 70
KNEE_ALONG_LEG = 0.406
"""Knee joint between crotch (0) and sole (1): (0.715 - 0.52) / (1 - 0.52)."""
LEG_OVER_TRUNK = 0.92
"""Crotch to sole over vertex to crotch: 0.48 / 0.52 of the height."""
TOUCHING_LEGS = 0.33
"""Legs may touch (feet, ankles, knees) up to this fraction of the body height above the sole."""
SEARCH_HALF_WIDTH = 0.12
"""Half width of the knee search window, as a fraction of the leg length."""


@dataclass(frozen=True)
class Knee:
    """One knee: ``side`` ("right" or "left"), crop centre ``row``/``col`` in the full image (0-based)."""

    side: str
    row: int
    col: int

    def as_dict(self) -> dict[str, int | str]:
        return {"side": self.side, "row": self.row, "col": self.col}


def find_knees(anterior: np.ndarray, method: str = "anatomy", source: str | Path | None = None) -> list[Knee]:
    """[right, left] knees of an anterior whole-body view (H, W); InputError naming ``source`` when none."""
    anterior = np.asarray(anterior, dtype=np.float32)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if anterior.ndim != 2 or anterior.shape[0] < 2 * CROP or anterior.shape[1] < CROP:
        raise InputError(source, f"a whole-body view must be 2-D and at least {2 * CROP} x {CROP} pixels, "
                                 f"not {'x'.join(map(str, anterior.shape))}")
    if method == "plan":
        return _plan_knees(anterior, source)
    return _anatomical_knees(anterior, source)


def _plan_knees(view: np.ndarray, source) -> list[Knee]:
    if view.shape != (1024, 256):
        raise InputError(source, f"the plan's knee heuristic needs a 1024 x 256 view, not "
                                 f"{view.shape[0]} x {view.shape[1]}")
    start = PLAN_BAND_START
    if not (view[start, 100:150] == 0).any():
        start += PLAN_SHIFT
    band = view[start:start + CROP]
    centre = start + int(np.argmax(band.max(axis=1)))
    centre = int(np.clip(centre, CROP // 2, view.shape[0] - CROP // 2))
    return [Knee("right", centre, CROP // 2), Knee("left", centre, CROP + CROP // 2)]


def _runs(mask_row: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask_row.astype(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def body_mask(view: np.ndarray) -> np.ndarray:
    """The patient's body: smoothed counts above an Otsu threshold of their logarithm, small specks removed."""
    smooth = ndimage.gaussian_filter(view.astype(np.float64), 3.0)
    positive = smooth[smooth > 0]
    if positive.size < 100 or np.ptp(positive) == 0:
        return np.zeros(view.shape, dtype=bool)
    mask = smooth > np.expm1(threshold_otsu(np.log1p(positive)))
    mask = ndimage.binary_opening(mask, iterations=2)
    labels, n = ndimage.label(mask)
    if n > 1:
        sizes = np.bincount(labels.ravel())[1:]
        mask = np.isin(labels, 1 + np.flatnonzero(sizes >= 0.02 * sizes.max()))
    return mask


def _track_legs(mask: np.ndarray) -> tuple[int, int, dict[int, list[tuple[int, int]]]] | None:
    """(sole row, crotch row, {row: [right run, left run]}) tracking both legs up from the feet, or None.

    Legs that touch (feet, ankles, knees) in the lower third of the body are split where they met.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    sole, top = int(rows[-1]), int(rows[0])
    touching_zone = sole - TOUCHING_LEGS * (sole - top)
    legs: dict[int, list[tuple[int, int]]] = {}
    current: list[tuple[int, int]] | None = None
    for r in range(sole, top - 1, -1):
        runs = [run for run in _runs(mask[r]) if run[1] - run[0] >= 3]
        if current is None:
            middle = mask.shape[1] / 2
            lefts = [run for run in runs if (run[0] + run[1]) / 2 < middle]
            rights = [run for run in runs if (run[0] + run[1]) / 2 >= middle]
            if lefts and rights:  # the two runs nearest the middle
                current = [max(lefts, key=lambda run: run[1]), min(rights, key=lambda run: run[0])]
                legs[r] = current
            elif r < touching_zone:
                return None  # no pair of feet or legs at the bottom of the body
            continue
        following = []
        for leg in current:
            overlapping = [run for run in runs if run[0] < leg[1] and run[1] > leg[0]]
            if not overlapping:
                return None
            following.append(max(overlapping, key=lambda run: min(run[1], leg[1]) - max(run[0], leg[0])))
        if following[0] == following[1]:
            if r < touching_zone:
                return sole, r + 1, legs
            split = (current[0][1] + current[1][0]) // 2
            following = [(following[0][0], split), (split, following[0][1])]
        current = following
        legs[r] = current
    return None


def _anatomical_knees(view: np.ndarray, source) -> list[Knee]:
    no_legs = "no legs in view: cannot find two legs below a trunk, so the knees cannot be located"
    mask = body_mask(view)
    tracked = _track_legs(mask)
    if tracked is None:
        raise InputError(source, no_legs)
    sole, crotch, legs = tracked
    body_top = int(np.flatnonzero(mask.any(axis=1))[0])
    trunk_length = crotch - body_top
    leg_length = sole - crotch
    if sole >= view.shape[0] - 3:  # feet out of view: legs as long as the body proportions say
        leg_length = max(leg_length, round(LEG_OVER_TRUNK * trunk_length))
    widths = np.array([[run[1] - run[0] for run in legs[r]] for r in legs], dtype=np.float64)
    if np.median(widths.max(axis=1) / widths.min(axis=1)) > 1.8:
        raise InputError(source, no_legs)
    if leg_length < 0.55 * trunk_length or leg_length < 80:
        raise InputError(source, f"{no_legs.split(':')[0]} down to the knees: the legs seen are {leg_length} rows "
                                 f"long under a trunk of {trunk_length} rows")
    centre = crotch + KNEE_ALONG_LEG * leg_length
    half = SEARCH_HALF_WIDTH * leg_length
    lo, hi = int(max(centre - half, crotch)), int(min(centre + half, sole))
    bone = ndimage.gaussian_filter(view.astype(np.float64), 1.5)
    knees = []
    for i, side in enumerate(SIDES):
        window = [r for r in range(lo, hi + 1) if r in legs]
        if len(window) < 5:
            raise InputError(source, no_legs)
        profile = np.array([bone[r, legs[r][i][0]:legs[r][i][1]].max() for r in window])
        profile = ndimage.gaussian_filter1d(profile, 5.0)
        prior = np.exp(-0.5 * ((np.array(window) - centre) / half) ** 2)
        row = window[int(np.argmax(profile * (0.7 + 0.3 * prior)))]
        near = [r for r in range(row - 10, row + 11) if r in legs]
        col = float(np.mean([(legs[r][i][0] + legs[r][i][1] - 1) / 2 for r in near]))
        knees.append(Knee(side, int(row), int(round(col))))
    return knees


def crop_knee(view: np.ndarray, knee: Knee) -> np.ndarray:
    """The 128 x 128 crop centred on ``knee`` (zero-padded at the image border), float32."""
    half = CROP // 2
    padded = np.pad(np.asarray(view, dtype=np.float32), half)
    return padded[knee.row:knee.row + CROP, knee.col:knee.col + CROP].copy()


__all__ = ["CROP", "METHODS", "SIDES", "Knee", "body_mask", "crop_knee", "find_knees"]
