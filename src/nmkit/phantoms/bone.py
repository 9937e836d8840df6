"""Whole-body Tc-99m bone-scan phantoms: anterior and posterior 1024 x 256 views with graded knee DJD.

Each scan is drawn on the study's grid (``pixel_mm`` 2.26, as the real NM1 scan): a skeleton of capsules
and ellipses (skull, spine, ribs, clavicles, shoulders, arms, pelvis, femurs, knees, tibias, feet) on a
soft-tissue body outline, with kidneys and a bladder. Landmarks follow standard body proportions of the
patient's height (knee joint at 0.715 of the height below the vertex); height, build, left/right and
vertical position and the count level vary per scan. The posterior view mirrors the anatomy (patient
right on the image right) with its own weights (spine and kidneys brighter, sternum fainter).

Knees carry a degenerative joint disease grade 0-4 each (normal, minimal, mild, moderate, severe), drawn
independently for right and left: periarticular uptake that rises in intensity and extent with the grade,
strongest over the medial compartment, with marginal osteophyte spots from mild on. Distractors elsewhere
(injection site in an arm, a rib or femoral-shaft fracture, spine/pelvis/rib metastases, a bladder of any
fullness) keep clear of the knee crops. The true knee centre is the centre of the joint line, in
full-image (row, col), 0-based; in the anterior view the patient's right knee is on the image left.

Determinism: scan ``i`` draws everything from ``SeedSequence(seed, spawn_key=(i,))``, so the same seed
gives the same bytes and a smaller ``n`` gives a prefix of a larger set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from nmkit.atomic import atomic_dir
from nmkit.phantoms.table import check_target, read_table, write_table
from nmkit.io.matlab import VERSIONS, VIEW_SHAPE, write_bone_mat

GRADE_NAMES = ("normal", "minimal", "mild DJD", "moderate DJD", "severe DJD")
DJD_AMPLITUDE = (0.0, 0.8, 1.7, 2.9, 4.4)
"""Periarticular uptake over the knee bone level, per grade (each scan varies it by +/- 12 %)."""
DJD_SIGMA_PX = (0.0, 3.0, 3.8, 4.8, 6.0)
"""Spread of the periarticular uptake per grade, in pixels."""
MANIFEST_COLUMNS = ("path", "right_grade", "left_grade", "right_knee_row", "right_knee_col", "left_knee_row",
                    "left_knee_col")
KNEE_FRACTION = 0.715
"""Knee joint line below the vertex, as a fraction of the height."""


@dataclass(frozen=True)
class BoneSpec:
    """What to generate; ranges are (low, high), drawn uniformly per scan.

    ``grade_weights`` is the share of each grade 0-4 (the clinic's mix: mostly normal to mild);
    ``unspecified_fraction`` the share of knees coded -1 (excluded from training, as in the study);
    ``counts_range`` the total counts of the anterior view; ``shift_px`` the largest sideways offset of
    the body; distractor rates are per scan.
    """

    pixel_mm: float = 2.26
    height_mm_range: tuple[float, float] = (1450.0, 1950.0)
    build_range: tuple[float, float] = (0.85, 1.2)
    knee_gap_mm_range: tuple[float, float] = (150.0, 230.0)
    counts_range: tuple[float, float] = (1.5e6, 4.0e6)
    shift_px: float = 12.0
    grade_weights: tuple[float, ...] = (0.32, 0.26, 0.2, 0.13, 0.09)
    unspecified_fraction: float = 0.03
    injection_rate: float = 0.3
    fracture_rate: float = 0.15
    metastasis_rate: float = 0.2

    def __post_init__(self) -> None:
        limits = {"height_mm_range": (1000, 2100), "build_range": (0.7, 1.4), "knee_gap_mm_range": (100, 280),
                  "counts_range": (1e5, 2e7)}
        for name, (low, high) in limits.items():
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != 2 or not low <= value[0] <= value[1] <= high:
                raise ValueError(f"{name} must be (low, high) with {low} <= low <= high <= {high}, not {value}")
            object.__setattr__(self, name, value)
        weights = tuple(float(w) for w in self.grade_weights)
        if len(weights) != 5 or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"grade_weights must be 5 non-negative numbers, not {self.grade_weights}")
        object.__setattr__(self, "grade_weights", weights)
        if not 1.5 <= float(self.pixel_mm) <= 3.5:
            raise ValueError(f"pixel_mm must be 1.5-3.5, not {self.pixel_mm}")
        if self.height_mm_range[1] / self.pixel_mm > VIEW_SHAPE[0] - 40:
            raise ValueError(f"the tallest patient ({self.height_mm_range[1]:g} mm) does not fit 1024 rows of "
                             f"{self.pixel_mm:g} mm")
        for name in ("unspecified_fraction", "injection_rate", "fracture_rate", "metastasis_rate"):
            if not 0 <= float(getattr(self, name)) <= 1:
                raise ValueError(f"{name} must be 0-1, not {getattr(self, name)}")
        if not 0 <= float(self.shift_px) <= 40:
            raise ValueError(f"shift_px must be 0-40, not {self.shift_px}")


@dataclass
class BoneScan:
    """One scan: ``views`` (2, 1024, 256) float32 counts (anterior, posterior), [right, left] ``grades``
    (0-4, -1 unspecified) and the true knee centres ``knees`` [(row, col) right, (row, col) left]."""

    views: np.ndarray
    grades: tuple[int, int]
    knees: tuple[tuple[float, float], tuple[float, float]]

    @property
    def codes(self) -> tuple[int, int]:
        """The study's diaginfo.kneejointid codes: grade + 2, or -1."""
        return tuple(g + 2 if g >= 0 else -1 for g in self.grades)  # type: ignore[return-value]


class _Canvas:
    """Anterior and posterior activity maps; shapes are drawn in anterior coordinates with per-view weights."""

    def __init__(self) -> None:
        self.maps = np.zeros((2, *VIEW_SHAPE), dtype=np.float64)
        self.rows = np.arange(VIEW_SHAPE[0], dtype=np.float64)[:, None]
        self.cols = np.arange(VIEW_SHAPE[1], dtype=np.float64)[None, :]

    def _box(self, r0: float, r1: float, c0: float, c1: float) -> tuple[slice, slice]:
        rows = slice(max(int(r0), 0), min(int(np.ceil(r1)) + 1, VIEW_SHAPE[0]))
        cols = slice(max(int(c0), 0), min(int(np.ceil(c1)) + 1, VIEW_SHAPE[1]))
        return rows, cols

    def _add(self, box: tuple[slice, slice], shape: np.ndarray, value: float, weights: tuple[float, float]) -> None:
        rows, cols = box
        for view, weight in enumerate(weights):
            if weight:
                self.maps[view, rows, cols] += (value * weight) * shape

    def capsule(self, p0, p1, radius: float, value: float, weights=(1.0, 1.0)) -> None:
        """A segment from p0 to p1 (row, col) thickened to ``radius`` pixels, uniform ``value``."""
        (r0, c0), (r1, c1) = p0, p1
        box = self._box(min(r0, r1) - radius, max(r0, r1) + radius, min(c0, c1) - radius, max(c0, c1) + radius)
        rr, cc = self.rows[box[0]], self.cols[:, box[1]]
        dr, dc = r1 - r0, c1 - c0
        t = np.clip(((rr - r0) * dr + (cc - c0) * dc) / max(dr * dr + dc * dc, 1e-9), 0.0, 1.0)
        dist2 = (rr - r0 - t * dr) ** 2 + (cc - c0 - t * dc) ** 2
        self._add(box, (dist2 <= radius * radius).astype(np.float64), value, weights)

    def ellipse(self, centre, half_rows: float, half_cols: float, value: float, weights=(1.0, 1.0),
                ring: float = 0.0) -> None:
        """A filled ellipse, or its ring of ``ring`` pixels thickness."""
        r, c = centre
        box = self._box(r - half_rows, r + half_rows, c - half_cols, c + half_cols)
        u = ((self.rows[box[0]] - r) / half_rows) ** 2 + ((self.cols[:, box[1]] - c) / half_cols) ** 2
        inside = u <= 1.0
        if ring:
            inner = max(1.0 - ring / min(half_rows, half_cols), 0.0) ** 2
            inside &= u >= inner
        self._add(box, inside.astype(np.float64), value, weights)

    def spot(self, centre, sigma: float, value: float, weights=(1.0, 1.0)) -> None:
        """A Gaussian spot of peak ``value``."""
        r, c = centre
        reach = 4 * sigma
        box = self._box(r - reach, r + reach, c - reach, c + reach)
        d2 = (self.rows[box[0]] - r) ** 2 + (self.cols[:, box[1]] - c) ** 2
        self._add(box, np.exp(-d2 / (2 * sigma * sigma)), value, weights)


def _djd(canvas: _Canvas, knee: tuple[float, float], medial: float, grade: int, bone: float,
         rng: np.random.Generator) -> None:
    """Periarticular uptake of ``grade`` at ``knee``; ``medial`` is +1 or -1, the image direction of the midline."""
    if grade <= 0:
        return
    amplitude = DJD_AMPLITUDE[grade] * bone * rng.uniform(0.88, 1.12)
    sigma = DJD_SIGMA_PX[grade] * rng.uniform(0.9, 1.1)
    row, col = knee
    canvas.spot((row + rng.uniform(-1, 1), col + medial * 5.0), sigma, amplitude)
    canvas.spot((row + rng.uniform(-1, 1), col - medial * 5.0), sigma * 0.9, amplitude * rng.uniform(0.3, 0.45))
    if grade >= 2:  # marginal osteophytes
        for side in (1.0, -1.0):
            canvas.spot((row + rng.uniform(-3, 3), col + side * 11.0), 2.0, amplitude * 0.25 * (grade - 1) / 3)


def _grade(spec: BoneSpec, rng: np.random.Generator) -> tuple[int, int]:
    """The drawn DJD grade and the recorded grade (-1 when the knee is left unspecified)."""
    weights = np.asarray(spec.grade_weights) / sum(spec.grade_weights)
    grade = int(rng.choice(5, p=weights))
    return grade, (-1 if rng.random() < spec.unspecified_fraction else grade)


def generate_bone_scan(spec: BoneSpec, seed: int, index: int = 0) -> BoneScan:
    """Scan ``index`` of the set drawn with ``seed`` (see the module docstring)."""
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(index),)))
    u = rng.uniform
    px = spec.pixel_mm
    height = u(*spec.height_mm_range) / px
    top = u(20.0, VIEW_SHAPE[0] - 20.0 - height)
    build = u(*spec.build_range)
    mid = VIEW_SHAPE[1] / 2 - 0.5 + u(-spec.shift_px, spec.shift_px)
    mm = build / px  # pixels per mm of a lateral body distance

    def row(fraction: float) -> float:
        return top + fraction * height

    bone = 1.0
    tissue = u(0.15, 0.30)
    canvas = _Canvas()
    c = canvas
    # Soft tissue: head, neck, trunk, arms, legs.
    c.ellipse((row(0.065), mid), 0.065 * height, 75 * mm, tissue)
    c.capsule((row(0.12), mid), (row(0.18), mid), 28 * mm, tissue)
    c.capsule((row(0.25), mid), (row(0.44), mid), 150 * mm, tissue)
    hip_half, knee_half = 85 * mm, u(*spec.knee_gap_mm_range) / px / 2
    ankle_half = knee_half * u(0.55, 0.9)
    arm_out = u(0.0, 25.0) * mm
    for side in (-1.0, 1.0):
        shoulder = (row(0.19), mid + side * 165 * mm)
        elbow = (row(0.38), mid + side * (175 * mm + arm_out))
        wrist = (row(0.48), mid + side * (165 * mm + 1.6 * arm_out))
        hip, knee = (row(0.47), mid + side * hip_half), (row(KNEE_FRACTION), mid + side * knee_half)
        ankle = (row(0.955), mid + side * ankle_half)
        c.capsule(shoulder, elbow, 38 * mm, tissue)
        c.capsule(elbow, wrist, 30 * mm, tissue)
        c.capsule((row(0.49), mid + side * 1.1 * hip_half), knee, min(68 * mm, 0.85 * knee_half), tissue)
        c.capsule(knee, ankle, 50 * mm, tissue)
        c.ellipse((row(0.985), ankle[1] + side * 4), 0.02 * height, 40 * mm, tissue)
        # Skeleton of this side.
        c.capsule(shoulder, elbow, 4.0, bone)
        c.capsule(elbow, wrist, 3.5, bone * 0.8)
        c.ellipse((wrist[0] + 0.03 * height, wrist[1]), 0.03 * height, 12 * mm, bone * 0.5)
        c.ellipse(shoulder, 7.0, 8.0, bone * 1.3)
        c.capsule((row(0.175), mid + side * 15 * mm), (row(0.168), mid + side * 150 * mm), 3.0, bone * 0.9,
                  (1.0, 0.6))
        c.ellipse((row(0.42), mid + side * 60 * mm), 0.045 * height, 45 * mm, bone * 0.9, ring=5.0)  # iliac wing
        c.ellipse(hip, 6.5, 6.5, bone * 1.3)
        c.capsule((row(0.49), mid + side * 25 * mm), (row(0.505), mid + side * 55 * mm), 3.5, bone * 0.8)
        c.capsule(hip, (knee[0] - 8, knee[1]), 5.0, bone)
        c.capsule((knee[0] + 8, knee[1]), ankle, 4.5, bone)
        c.ellipse((knee[0] - 5, knee[1]), 6.0, 11.0, bone * 0.7)  # femoral condyles
        c.ellipse((knee[0] + 5, knee[1]), 6.0, 10.0, bone * 0.75)  # tibial plateau
        c.ellipse((knee[0] - 8, knee[1]), 4.0, 5.0, bone * 0.3, (1.0, 0.2))  # patella
        c.ellipse(ankle, 5.0, 7.0, bone * 1.2)
        c.ellipse((row(0.985), ankle[1] + side * 4), 0.015 * height, 16 * mm, bone * 0.9)
        for k in range(10):  # ribs
            r0 = row(0.20 + 0.023 * k)
            lateral = (95 + 4 * min(k, 5)) * mm
            c.capsule((r0, mid + side * 12), (r0 + 4, mid + side * lateral), 2.2, bone * 0.45, (0.8, 1.0))
            c.capsule((r0 + 4, mid + side * lateral), (r0 + 22, mid + side * (lateral - 25 * mm)), 2.2,
                      bone * 0.45, (0.8, 1.0))
        c.ellipse((row(0.355), mid + side * 45 * mm), 0.035 * height, 22 * mm, u(0.25, 0.5), (0.3, 1.0))  # kidney
    c.ellipse((row(0.065), mid), 0.065 * height, 70 * mm, bone * 0.9, ring=6.0)  # skull
    c.ellipse((row(0.105), mid), 0.02 * height, 40 * mm, bone * 0.8)  # facial bones
    c.capsule((row(0.12), mid), (row(0.45), mid), 6.0, bone, (0.8, 1.4))  # spine
    for k in range(24):  # vertebral bodies
        c.ellipse((row(0.125 + 0.0135 * k), mid), 2.5, 6.0, bone * 0.3, (0.8, 1.4))
    c.capsule((row(0.19), mid), (row(0.30), mid), 3.5, bone * 0.8, (1.0, 0.4))  # sternum
    c.ellipse((row(0.455), mid), 0.025 * height, 22 * mm, bone * 1.1)  # sacrum
    c.ellipse((row(0.495), mid), 0.018 * height, 35 * mm, u(1.0, 12.0), (1.0, 0.7))  # bladder

    grade_right, recorded_right = _grade(spec, rng)
    grade_left, recorded_left = _grade(spec, rng)
    knees = ((row(KNEE_FRACTION), mid - knee_half), (row(KNEE_FRACTION), mid + knee_half))
    _djd(c, knees[0], +1.0, grade_right, bone, rng)
    _djd(c, knees[1], -1.0, grade_left, bone, rng)
    _distractors(spec, c, rng, row, mid, mm, knees, bone)

    # Camera blur (FWHM ~ 2 px), the posterior view mirrored, counts and Poisson noise.
    maps = ndimage.gaussian_filter(canvas.maps, sigma=(0, 1.0, 1.0))
    maps[1] = maps[1, :, ::-1]
    counts = u(*spec.counts_range)
    scale = counts / maps[0].sum()
    posterior_scale = scale * u(0.85, 1.05)
    expected = np.stack([maps[0] * scale, maps[1] * posterior_scale])
    views = rng.poisson(expected).astype(np.float32)
    return BoneScan(views, (recorded_right, recorded_left),
                    tuple((round(float(r), 2), round(float(col), 2)) for r, col in knees))  # type: ignore[arg-type]


def _distractors(spec: BoneSpec, c: _Canvas, rng: np.random.Generator, row, mid: float, mm: float,
                 knees, bone: float) -> None:
    """Injection site, fracture and metastases, all at least 70 rows from the knee joint line."""
    u = rng.uniform
    side = rng.choice((-1.0, 1.0))
    if rng.random() < spec.injection_rate:
        c.spot((row(u(0.36, 0.47)), mid + side * 175 * mm), u(2.0, 4.0), u(3.0, 15.0))
    if rng.random() < spec.fracture_rate:
        if rng.random() < 0.5:  # rib
            r0 = row(0.20 + 0.023 * rng.integers(2, 9))
            c.spot((r0 + 3, mid + side * 90 * mm), 2.5, bone * u(1.5, 3.0))
        else:  # femoral shaft, well above the knee
            knee_row, knee_col = knees[0 if side < 0 else 1]
            r0 = u(row(0.52), knee_row - 75)
            t = (r0 - row(0.47)) / (knee_row - row(0.47))
            col = mid + side * 85 * mm + t * (knee_col - mid - side * 85 * mm)
            c.capsule((r0, col - 6), (r0 + 2, col + 6), 2.0, bone * u(1.5, 3.0))
    if rng.random() < spec.metastasis_rate:
        for _ in range(int(rng.integers(1, 5))):
            site = rng.integers(3)
            if site == 0:
                centre = (row(u(0.15, 0.44)), mid + u(-3, 3))
            elif site == 1:
                centre = (row(u(0.40, 0.48)), mid + rng.choice((-1.0, 1.0)) * u(20, 75) * mm)
            else:
                centre = (row(u(0.20, 0.40)), mid + rng.choice((-1.0, 1.0)) * u(40, 100) * mm)
            c.spot(centre, u(2.5, 5.0), bone * u(1.5, 4.0))


def write_bone_set(out_dir: str | Path, spec: BoneSpec, n: int, seed: int = 0, version: str = "v5",
                   progress: Callable[[int], Any] | None = None) -> Path:
    """Write ``n`` scans as ``scans/scan_00000.mat`` (the study's format) and ``manifest.csv`` to ``out_dir``.

    The folder is built under a temporary name and renamed at the end; an existing bone-scan set there is
    replaced. ``progress(done)`` is called after each scan.
    """
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {', '.join(VERSIONS)}, not {version!r}")
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n}")
    out_dir = Path(out_dir)
    check_target(out_dir, "manifest.csv", MANIFEST_COLUMNS, "bone-scan")
    digits = max(5, len(str(max(n - 1, 0))))
    rows = []
    with atomic_dir(out_dir) as tmp:
        (tmp / "scans").mkdir()
        for i in range(n):
            scan = generate_bone_scan(spec, seed, i)
            path = f"scans/scan_{i:0{digits}d}.mat"
            write_bone_mat(tmp / path, scan.views, scan.codes, version)
            (rr, rc), (lr, lc) = scan.knees
            rows.append({"path": path, "right_grade": scan.grades[0], "left_grade": scan.grades[1],
                         "right_knee_row": rr, "right_knee_col": rc, "left_knee_row": lr, "left_knee_col": lc})
            if progress is not None:
                progress(i + 1)
        write_table(tmp / "manifest.csv", MANIFEST_COLUMNS, rows)
    return out_dir


def read_bone_manifest(path: str | Path) -> list[dict[str, Any]]:
    """The records of a ``manifest.csv`` written by :func:`write_bone_set`, with typed values."""
    types = {c: str if c == "path" else int if c.endswith("grade") else float for c in MANIFEST_COLUMNS}
    return read_table(path, types, hint="make a set with `nmkit bonescan synth --out DIR`")


__all__ = ["BoneScan", "BoneSpec", "DJD_AMPLITUDE", "GRADE_NAMES", "MANIFEST_COLUMNS", "generate_bone_scan",
           "read_bone_manifest", "write_bone_set"]
