"""ECG-gated blood-pool (MUGA) phantoms: planar LAO views of a beating heart with its true LV region and EF.

Each study is a forward-gated cycle of ``frames`` planar images in a left anterior oblique (~45 degree)
view of red cells labelled with Tc-99m, as a gamma camera acquires it at ``native`` x ``native`` pixels and
a workstation resamples it to ``size`` x ``size`` (the study: 24 frames, 64 -> 256).

Anatomy (x to the image right, y down, z away from the camera; mm): every organ is an ellipsoid of uniform
activity, so its projection is the exact line integral (the chord length) through it. The LV is a prolate
ellipsoid cut flat at its base (valve plane), its apex inferolateral (image lower right), its long axis
pointing up and left, tilted towards the camera; the RV lies on the image left of the septum, anterior
(the septal gap, negative for overlap, varies); the atria sit above the ventricles (the LA posterior over the
LV base) and fill as the ventricles empty; ascending aorta, arch and descending aorta, and the pulmonary
artery run above; lungs, liver (image lower left), spleen (image lower right, posterior) and a body of
soft tissue make the background. Blood has concentration 1; tissues a fraction of it; every organ is
attenuated as a whole by exp(-mu z) at its centre (no scatter beyond the camera blur).

Cycle: ED at frame 0; the LV volume falls smoothly to ES (at 26-45 % of R-R, later at faster rates, on a
frame), refills fast (55-75 % of the stroke volume), slowly in diastasis, then with the atrial kick. The LV
keeps its apex and shortens more across (volume^0.375) than along (volume^0.25) its axis, so the base
descends. The RV follows with its own EF (35-65 %), the atria in counter-phase.

Imaging: the projection is sampled at 4 x 4 points per native pixel, blurred by the camera (Gaussian,
``fwhm_mm_range``), scaled to the study's counts per frame (total over the native image, averaged over
the frames), drawn with Poisson noise at the native grid, then resampled bilinearly to ``size`` and
rounded: ``frames`` hold counts per native pixel, as a workstation's interpolated display does. The true
LV region is the LV's projected footprint at ``size``, one convex region per frame. ``true_ef`` is
(max - min) / max of the LV's own noiseless, background-free counts per frame: the drawn EF up to pixel
discretisation (under 0.1 point).

Determinism: study ``i`` draws everything from ``SeedSequence(seed).spawn(n)[i]``, so the same seed gives
the same bytes and a smaller ``n`` gives a prefix of a larger set.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage
from scipy import ndimage
from skimage import measure

from nmkit.atomic import atomic_dir
from nmkit.phantoms.table import check_target, read_table, write_table
from nmkit.io.dicom_write import write_nm_dicom

MU_PER_MM = 0.011
"""Effective (broad-beam) attenuation of 140 keV photons in soft tissue, per mm."""
SUPERSAMPLE = 4
"""Projection samples per native pixel along each axis."""
COUNT_RATE_CPS = 30_000.0
"""Count rate over the field of view during acquisition, to state the number of beats (IntervalsAcquired)."""
TRAINING_FRAMES = (("ed", 0), ("ed", 2), ("es", 0), ("es", 2))
"""The study's four annotated frames per study: ED, ED + 2, ES, ES + 2 (modulo the frame count)."""
MANIFEST_COLUMNS = ("path", "true_ef", "ed_frame", "es_frame", "mask", "frames", "heart_rate_bpm", "pixel_mm",
                    "counts_per_frame")
FORMATS = ("dicom", "npy")


@dataclass(frozen=True)
class GatedSpec:
    """What to generate. Ranges are (low, high), drawn uniformly per study.

    ``native_pixel_mm`` is the camera's pixel at ``native`` resolution; the field of view is kept, so the
    output pixel is ``pixel_mm`` = native_pixel_mm * native / size. ``ef_range`` is in percent;
    ``counts_range`` is the total counts per frame over the native image (clinical MUGA: 200-400 k).
    ``heart_scale_range`` scales every cardiac structure, ``shift_mm`` moves the heart up to that far in x
    and y, ``rotation_deg`` turns it in the image plane up to that angle either way.
    """

    frames: int = 24
    native: int = 64
    size: int = 256
    native_pixel_mm: float = 6.0
    ef_range: tuple[float, float] = (15.0, 80.0)
    counts_range: tuple[float, float] = (200e3, 400e3)
    heart_rate_range: tuple[float, float] = (50.0, 110.0)
    fwhm_mm_range: tuple[float, float] = (8.0, 10.0)
    heart_scale_range: tuple[float, float] = (0.85, 1.2)
    shift_mm: float = 20.0
    rotation_deg: float = 15.0

    def __post_init__(self) -> None:
        for name in ("frames", "native", "size"):
            object.__setattr__(self, name, int(getattr(self, name)))
        for name in ("native_pixel_mm", "shift_mm", "rotation_deg"):
            object.__setattr__(self, name, float(getattr(self, name)))
        limits = {"ef_range": (5, 90), "counts_range": (1e3, 5e6), "heart_rate_range": (30, 200),
                  "fwhm_mm_range": (1, 30), "heart_scale_range": (0.5, 1.6)}
        for name, (low, high) in limits.items():
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != 2 or not low <= value[0] <= value[1] <= high:
                raise ValueError(f"{name} must be (low, high) with {low} <= low <= high <= {high}, not {value}")
            object.__setattr__(self, name, value)
        if not 8 <= self.frames <= 32:
            raise ValueError(f"frames must be 8-32, not {self.frames}")
        if not 32 <= self.native <= 256:
            raise ValueError(f"native must be 32-256 px, not {self.native}")
        if not self.native <= self.size <= 1024:
            raise ValueError(f"size must be native ({self.native}) to 1024 px, not {self.size}")
        if not 300 <= self.native * self.native_pixel_mm <= 600:
            raise ValueError(f"the field of view native * native_pixel_mm must be 300-600 mm, "
                             f"not {self.native * self.native_pixel_mm:g}")
        if not 0 <= self.shift_mm <= 40:
            raise ValueError(f"shift_mm must be 0-40, not {self.shift_mm}")
        if not 0 <= self.rotation_deg <= 45:
            raise ValueError(f"rotation_deg must be 0-45, not {self.rotation_deg}")

    @property
    def pixel_mm(self) -> float:
        return self.native_pixel_mm * self.native / self.size


@dataclass
class GatedStudy:
    """One gated cycle with its ground truth. Counts are per native pixel; ``pixel_mm`` is the output pixel.

    ``frames`` (F, size, size) float32 noisy counts; ``lv_masks`` (F, size, size) bool true LV regions;
    ``lv_counts`` (F,) the LV's own noiseless counts; ``true_ef`` percent; ``ed_frame``/``es_frame`` the
    frames of most and fewest LV counts; ``lv_center`` (row, col) of the ED LV region; ``lv_frames`` (F, size,
    size), only when asked for, the LV's own expected counts after the camera blur (what it spreads where).
    """

    frames: np.ndarray
    lv_masks: np.ndarray
    lv_counts: np.ndarray
    true_ef: float
    ed_frame: int
    es_frame: int
    heart_rate_bpm: int
    pixel_mm: float
    counts_per_frame: float
    fwhm_mm: float
    lv_center: tuple[float, float]
    lv_frames: np.ndarray | None = None

    @property
    def r_r_ms(self) -> float:
        return 60_000.0 / self.heart_rate_bpm

    @property
    def frame_time_ms(self) -> float:
        return self.r_r_ms / len(self.frames)


@dataclass(frozen=True)
class _Ellipsoids:
    """K ellipsoids sharing an orientation (K = 1, or one per frame); ``weight`` is activity per mm of path.

    ``plane`` = (n, h): keep only points p with n . (p - centre) <= h[k] (n a view-frame unit vector, n_z > 0).
    """

    centre: np.ndarray  # (K, 3) mm
    axes: np.ndarray  # (K, 3) semi-axes along the columns of rot, mm
    rot: np.ndarray  # (3, 3) local -> view
    weight: float
    plane: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class _Grid:
    fov: float
    native: int

    def coords(self, n: int) -> np.ndarray:
        """Pixel-centre coordinates (mm) of an n-pixel axis across the field of view."""
        return (np.arange(n) + 0.5) * self.fov / n - self.fov / 2

    def box(self, e: _Ellipsoids, n: int) -> tuple[slice, slice]:
        """(rows, cols) of an n x n grid that hold every ellipsoid's projection (clipped to the grid)."""
        cov = np.einsum("ij,kj,lj->kil", e.rot, e.axes**2, e.rot)
        reach = np.sqrt(np.stack([cov[:, 0, 0], cov[:, 1, 1]], axis=1))  # (K, 2): x, y half extents
        lo = np.floor(((e.centre[:, :2] - reach).min(0) + self.fov / 2) * n / self.fov).astype(int)
        hi = np.ceil(((e.centre[:, :2] + reach).max(0) + self.fov / 2) * n / self.fov).astype(int)
        lo, hi = np.clip(lo, 0, n), np.clip(hi, 0, n)
        return slice(lo[1], max(lo[1], hi[1])), slice(lo[0], max(lo[0], hi[0]))


def _rot_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _rot_x(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _chords(e: _Ellipsoids, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Path lengths (mm) along z through each ellipsoid at the points (ys x xs): (K, len(ys), len(xs))."""
    a = np.einsum("ij,kj,lj->kil", e.rot, 1.0 / e.axes**2, e.rot)
    azz, azx, azy = (a[:, 2, i][:, None, None] for i in (2, 0, 1))
    mxx = a[:, 0, 0][:, None, None] - azx * azx / azz  # Schur complement: the projected ellipse
    mxy = a[:, 0, 1][:, None, None] - azx * azy / azz
    myy = a[:, 1, 1][:, None, None] - azy * azy / azz
    ux = xs[None, None, :] - e.centre[:, 0, None, None]
    uy = ys[None, :, None] - e.centre[:, 1, None, None]
    half = np.sqrt(np.maximum(1.0 - (mxx * ux * ux + 2.0 * mxy * ux * uy + myy * uy * uy), 0.0) / azz)
    if e.plane is None:
        return 2.0 * half
    n, h = e.plane
    mid = -(azx * ux + azy * uy) / azz
    top = (h[:, None, None] - n[0] * ux - n[1] * uy) / n[2]
    return np.maximum(np.minimum(mid + half, top) - (mid - half), 0.0)


def _project(e: _Ellipsoids, grid: _Grid) -> tuple[tuple[slice, slice], np.ndarray]:
    """The native-pixel box and the weighted mean path length over each box pixel's samples: (K, h, w)."""
    rows, cols = grid.box(e, grid.native)
    k = SUPERSAMPLE
    fine = grid.coords(grid.native * k)
    chords = _chords(e, fine[cols.start * k:cols.stop * k], fine[rows.start * k:rows.stop * k])
    K, h, w = chords.shape
    return (rows, cols), e.weight * chords.reshape(K, h // k, k, w // k, k).mean(axis=(2, 4))


def _resample(image: np.ndarray, n_out: int) -> np.ndarray:
    """Bilinear resampling of (F, n, n) to (F, n_out, n_out) between pixel-centre grids over the same extent."""
    n_in = image.shape[-1]
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.minimum(np.floor(pos).astype(int), n_in - 2)
    frac = (pos - lo).astype(image.dtype)
    rows = image[:, lo, :] * (1 - frac)[:, None] + image[:, lo + 1, :] * frac[:, None]
    return rows[:, :, lo] * (1 - frac) + rows[:, :, lo + 1] * frac


def _ramp(u: np.ndarray) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(u, 0.0, 1.0))


def _ejected(x: np.ndarray, x_es: float, fill: float, slow: float, d_fill: float, x_atrial: float) -> np.ndarray:
    """Share of the stroke volume out of the ventricle at cycle phase x in [0, 1): 0 at ED, 1 at ES."""
    refill = (fill * _ramp((x - x_es) / d_fill) + slow * _ramp((x - x_es - d_fill) / (x_atrial - x_es - d_fill))
              + (1.0 - fill - slow) * _ramp((x - x_atrial) / (1.0 - x_atrial)))
    return np.where(x <= x_es, _ramp(x / x_es), 1.0 - refill)


def _anatomy(spec: GatedSpec, rng: np.random.Generator, ef: float,
             heart_rate: float) -> tuple[_Ellipsoids, list[_Ellipsoids]]:
    """The LV (one ellipsoid per frame) and every other organ of one study, drawn from ``rng``."""
    u = rng.uniform
    n = spec.frames
    phase = np.arange(n) / n
    x_es = round(min(max(u(0.30, 0.38) + 0.0015 * (heart_rate - 70), 0.26), 0.45) * n) / n
    d_fill = u(0.14, 0.22)
    ejected = _ejected(phase, x_es, u(0.55, 0.75), u(0.05, 0.15), d_fill, max(u(0.80, 0.88), x_es + d_fill + 0.05))
    scale = u(*spec.heart_scale_range)
    turn = _rot_z(math.radians(u(-spec.rotation_deg, spec.rotation_deg)))
    heart = np.array([15.0 + u(-spec.shift_mm, spec.shift_mm), -10.0 + u(-spec.shift_mm, spec.shift_mm), 60.0])

    def place(offset: tuple[float, float, float]) -> np.ndarray:
        return turn @ np.asarray(offset) * scale

    def organ(centre, axes, rot: np.ndarray, concentration: float, volume: np.ndarray | None = None) -> _Ellipsoids:
        axes = np.asarray(axes, float)[None] * (1.0 if volume is None else np.cbrt(volume)[:, None])
        centre = np.broadcast_to(np.asarray(centre, float), (len(axes), 3))
        return _Ellipsoids(centre, axes, rot, concentration * u(0.8, 1.2) * math.exp(-MU_PER_MM * centre[0, 2]))

    # LV: apex fixed, base descending; a = long, b = short semi-axis at ED (dilated when EF is low)
    b = 28.0 * scale * (1.0 + 0.5 * max(0.0, 0.5 - ef))
    a = b * u(1.45, 1.8)
    theta, phi = math.radians(u(25, 45)), math.radians(u(20, 40))
    lv_rot = turn @ _rot_z(-theta) @ _rot_x(-phi)  # local y is the long axis, -y points to the base
    base_dir = lv_rot @ np.array([0.0, -1.0, 0.0])
    apex = heart + place((40.0, 45.0, -5.0))
    volume = 1.0 - ef * ejected
    long_axis, short_axis = a * volume**0.25, b * volume**0.375
    cut = u(0.3, 0.55)
    lv = _Ellipsoids(apex + long_axis[:, None] * base_dir,
                     np.stack([short_axis, long_axis, short_axis], axis=1), lv_rot,
                     math.exp(-MU_PER_MM * (apex[2] + a * base_dir[2])), (base_dir, cut * long_axis))
    lv_centre, lv_base = apex + a * base_dir, apex + a * (1 + cut) * base_dir
    rv_axes = np.array([20.0, 40.0, 15.0]) * scale * u(0.9, 1.15)
    septal_gap = u(-6, 12)  # mm at scale 1; negative: RV and LV overlap in the view
    rv_centre = lv_centre + place((-(b + rv_axes[0]) / scale - septal_gap, 8.0, -22.0))
    septal = turn @ _rot_z(-0.6 * theta)
    aorta = lv_base + place((-12.0, -40.0, -5.0))
    arch = aorta + place((25.0, -40.0, 40.0))
    others = [
        organ(rv_centre, rv_axes, septal, 1.0, 1.0 - u(0.35, 0.65) * ejected),
        organ(lv_base + place((8.0, u(-30, -12), 25.0)), np.array([22.0, 16.0, 20.0]) * scale, turn, 1.0,
              1.0 + u(0.5, 1.0) * ejected),  # LA
        organ(rv_centre + place((-12.0, -rv_axes[1] / scale - u(5, 20), 15.0)), np.array([20.0, 24.0, 20.0]) * scale,
              turn, 1.0, 1.0 + u(0.4, 0.9) * ejected),  # RA
        organ(aorta, np.array([13.0, 38.0, 13.0]) * scale, turn @ _rot_z(math.radians(15)), 1.0),
        organ(arch, np.array([32.0, 13.0, 13.0]) * scale, turn, 1.0),
        organ((arch[0] + 25.0 * scale, 0.0, 160.0), (11.0, 400.0, 11.0), np.eye(3), 1.0),  # descending aorta
        organ(rv_centre + place((18.0, -rv_axes[1] / scale - 20.0, -5.0)), np.array([12.0, 26.0, 12.0]) * scale,
              turn @ _rot_z(math.radians(35)), 1.0),  # pulmonary artery
        organ(heart + (-120.0, 150.0 + u(-20, 20), 50.0), np.array([120.0, 80.0, 90.0]) * u(0.9, 1.1), np.eye(3),
              0.15),  # liver
        organ(heart + (115.0, 120.0 + u(-20, 20), 110.0), (35.0, 50.0, 30.0), np.eye(3), 0.8),  # spleen
        organ(heart + (-95.0, -40.0, 40.0), (65.0, 130.0, 75.0), np.eye(3), 0.07),  # right lung
        organ(heart + (100.0, -40.0, 50.0), (60.0, 120.0, 70.0), np.eye(3), 0.07),  # left lung
        organ((u(-10, 10), 0.0, 110.0), (175.0 * u(0.9, 1.1), 1000.0, 110.0), np.eye(3), 0.08),  # body
    ]
    return lv, others


def _study(spec: GatedSpec, seed: int, index: int, noiseless: bool = False, lv_frames: bool = False) -> GatedStudy:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
    ef = rng.uniform(*spec.ef_range) / 100.0
    heart_rate = int(round(rng.uniform(*spec.heart_rate_range)))
    counts = float(round(rng.uniform(*spec.counts_range)))
    fwhm = rng.uniform(*spec.fwhm_mm_range)
    lv, others = _anatomy(spec, rng, ef, heart_rate)
    grid = _Grid(spec.native * spec.native_pixel_mm, spec.native)

    image = np.zeros((spec.frames, spec.native, spec.native))
    for organ in others:
        box, projection = _project(organ, grid)
        image[(slice(None), *box)] += projection
    lv_box, lv_projection = _project(lv, grid)
    image[(slice(None), *lv_box)] += lv_projection
    sigma = (0, *[fwhm / 2.3548 / spec.native_pixel_mm] * 2)
    image = ndimage.gaussian_filter(image, sigma=sigma, mode="nearest")
    gain = counts / image.sum(axis=(1, 2)).mean()
    lv_only = None
    if lv_frames:
        lv_only = np.zeros_like(image)
        lv_only[(slice(None), *lv_box)] = lv_projection
        lv_only = _resample(ndimage.gaussian_filter(lv_only, sigma=sigma, mode="nearest") * gain, spec.size)
    lv_counts = lv_projection.sum(axis=(1, 2)) * gain
    native = (image * gain if noiseless else rng.poisson(image * gain)).astype(np.float32)
    frames = _resample(native, spec.size)
    if not noiseless:
        np.rint(frames, out=frames)

    masks = np.zeros(frames.shape, dtype=bool)
    rows, cols = grid.box(lv, spec.size)
    fine = grid.coords(spec.size)
    masks[:, rows, cols] = _chords(lv, fine[cols], fine[rows]) > 0
    ed, es = int(np.argmax(lv_counts)), int(np.argmin(lv_counts))
    centre = np.argwhere(masks[ed]).mean(axis=0)
    return GatedStudy(frames=frames, lv_masks=masks, lv_counts=lv_counts, ed_frame=ed, es_frame=es,
                      true_ef=float(100.0 * (lv_counts[ed] - lv_counts[es]) / lv_counts[ed]),
                      heart_rate_bpm=heart_rate, pixel_mm=spec.pixel_mm, counts_per_frame=counts,
                      fwhm_mm=float(fwhm), lv_center=(float(centre[0]), float(centre[1])), lv_frames=lv_only)


def generate_gated_studies(spec: GatedSpec, n: int, seed: int = 0, *, start: int = 0,
                           noiseless: bool = False, lv_frames: bool = False) -> list[GatedStudy]:
    """Studies ``start`` .. ``start + n - 1`` of the set ``seed``, with their ground truth (so a large set can be
    made in chunks); ``noiseless`` gives the expected (unrounded) frames, ``lv_frames`` the LV's own blurred
    counts as well (the other bytes do not change)."""
    if n < 0 or seed < 0 or start < 0:
        raise ValueError(f"n, seed and start must be >= 0, not n={n}, seed={seed}, start={start}")
    return [_study(spec, int(seed), i, noiseless, lv_frames) for i in range(int(start), int(start) + int(n))]


def training_frames(ed: int, es: int, n_frames: int) -> list[int]:
    """The annotated frames of a study (:data:`TRAINING_FRAMES`: ED, ED+2, ES, ES+2 mod F), repeats dropped."""
    anchor = {"ed": ed, "es": es}
    return list(dict.fromkeys((anchor[name] + offset) % n_frames for name, offset in TRAINING_FRAMES))


def observer_polygons(mask: np.ndarray, rng: np.random.Generator, n_observers: int) -> list[np.ndarray]:
    """LV outlines as ``n_observers`` people would click them in LabelMe: (K, 2) arrays of (x=col, y=row).

    Each follows the mask's contour with 12-32 unevenly spaced vertices, moved radially by the observer's
    bias (a generous or tight ROI, up to 6 % of the LV radius either way, ~2 px at 256), a smooth wobble
    (2nd-4th harmonics, up to 3 % each) and click noise (2 %).
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2 or not mask.any():
        raise ValueError("mask must be a 2-D boolean array with at least one pixel set")
    contour = max(measure.find_contours(np.pad(mask, 1).astype(np.float64), 0.5), key=len) - 1.0
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(contour, axis=0).T))])
    centre = np.argwhere(mask).mean(axis=0)
    radius = math.sqrt(mask.sum() / math.pi)
    polygons = []
    for _ in range(n_observers):
        k = int(rng.integers(12, 33))
        t = np.mod((np.arange(k) + rng.uniform(-0.3, 0.3, k) + rng.random()) / k, 1.0) * arc[-1]
        points = np.stack([np.interp(t, arc, contour[:, 0]), np.interp(t, arc, contour[:, 1])], axis=1)
        spoke = points - centre
        angle = np.arctan2(spoke[:, 0], spoke[:, 1])
        wobble = sum(rng.uniform(0, 0.03) * np.cos(m * angle + rng.uniform(0, 2 * np.pi)) for m in (2, 3, 4))
        shift = radius * (rng.uniform(-0.06, 0.06) + wobble + rng.normal(0.0, 0.02, k))
        points = centre + spoke * (1.0 + shift / np.maximum(np.hypot(*spoke.T), 1e-6))[:, None]
        points = np.clip(points, 0, np.array(mask.shape) - 1)
        polygons.append(np.ascontiguousarray(points[:, ::-1]))
    return polygons


def labelme_json(polygons: list[np.ndarray], image_shape: tuple[int, int], image_path: str,
                 label: str = "LV") -> dict[str, Any]:
    """A LabelMe 5.2.1 document with one polygon shape per (K, 2) array of (x, y) points."""
    shapes = [{"label": label, "points": [[round(float(x), 2), round(float(y), 2)] for x, y in polygon],
               "group_id": None, "shape_type": "polygon", "flags": {}} for polygon in polygons]
    return {"version": "5.2.1", "flags": {}, "shapes": shapes, "imagePath": str(image_path), "imageData": None,
            "imageHeight": int(image_shape[0]), "imageWidth": int(image_shape[1])}


def _write_labelme(folder: Path, study: GatedStudy, observers: int, rng: np.random.Generator) -> None:
    """Each training frame as an 8-bit PNG and each observer's outline of it as LabelMe JSON."""
    folder.mkdir(parents=True)
    peak = max(float(study.frames.max()), 1.0)
    for f in training_frames(study.ed_frame, study.es_frame, len(study.frames)):
        png = f"frame_{f:02d}.png"
        PILImage.fromarray(np.rint(study.frames[f] * (255.0 / peak)).astype(np.uint8)).save(folder / png)
        for o, polygon in enumerate(observer_polygons(study.lv_masks[f], rng, observers), start=1):
            document = labelme_json([polygon], study.frames.shape[1:], png)
            (folder / f"frame_{f:02d}_obs{o}.json").write_text(json.dumps(document, indent=1))


def write_gated_set(out_dir: str | Path, spec: GatedSpec, n: int, seed: int = 0, fmt: str = "dicom",
                    observers: int = 0, progress: Callable[[int], Any] | None = None) -> Path:
    """Write ``n`` studies, their true LV masks, optional observer outlines and ``manifest.csv`` to ``out_dir``.

    ``studies/study_00000.dcm`` (gated NM DICOM, :func:`nmkit.io.dicom_write.write_nm_dicom`) or ``.npy``
    (F, H, W float32); ``masks/study_00000.npy`` (F, H, W uint8); with ``observers`` > 0,
    ``labelme/study_00000/frame_XX.png`` and ``frame_XX_obsY.json`` (Y = 1..observers) for the training
    frames; ``manifest.csv`` (columns :data:`MANIFEST_COLUMNS`, paths relative to ``out_dir``). The folder
    is built under a temporary name and renamed at the end; an existing gated set there is replaced.
    ``progress(done)`` is called after each study.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if n < 0 or observers < 0:
        raise ValueError(f"n and observers must be >= 0, not n={n}, observers={observers}")
    out_dir = Path(out_dir)
    check_target(out_dir, "manifest.csv", MANIFEST_COLUMNS, "gated")
    digits = max(5, len(str(max(n - 1, 0))))
    rows = []
    with atomic_dir(out_dir) as tmp:
        (tmp / "studies").mkdir()
        (tmp / "masks").mkdir()
        for i in range(n):
            study = _study(spec, int(seed), i)
            name = f"study_{i:0{digits}d}"
            path = f"studies/{name}.{'dcm' if fmt == 'dicom' else 'npy'}"
            if fmt == "dicom":
                beats = round(study.counts_per_frame * spec.frames / (COUNT_RATE_CPS * study.r_r_ms / 1000.0))
                gated = {"heart_rate_bpm": study.heart_rate_bpm, "r_r_ms": study.r_r_ms,
                         "n_time_slots": spec.frames, "intervals_acquired": beats}
                write_nm_dicom(tmp / path, study.frames, (spec.pixel_mm, spec.pixel_mm), gated=gated,
                               patient_id=name.upper(), series_description="GATED BLOOD POOL LAO 45")
            else:
                np.save(tmp / path, study.frames)
            np.save(tmp / f"masks/{name}.npy", study.lv_masks.astype(np.uint8))
            if observers:
                rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(i, 0)))
                _write_labelme(tmp / "labelme" / name, study, observers, rng)
            rows.append({"path": path, "true_ef": study.true_ef, "ed_frame": study.ed_frame,
                         "es_frame": study.es_frame, "mask": f"masks/{name}.npy", "frames": spec.frames,
                         "heart_rate_bpm": study.heart_rate_bpm, "pixel_mm": spec.pixel_mm,
                         "counts_per_frame": study.counts_per_frame})
            if progress is not None:
                progress(i + 1)
        write_table(tmp / "manifest.csv", MANIFEST_COLUMNS, rows)
    return out_dir


_MANIFEST_TYPES: dict[str, Callable[[str], Any]] = {
    "path": str, "true_ef": float, "ed_frame": int, "es_frame": int, "mask": str, "frames": int,
    "heart_rate_bpm": int, "pixel_mm": float, "counts_per_frame": float}


def read_gated_manifest(path: str | Path) -> list[dict[str, Any]]:
    """The records of a ``manifest.csv`` written by :func:`write_gated_set`, with typed values."""
    return read_table(path, _MANIFEST_TYPES, hint="make a set with `nmkit gbp synth --out DIR`")


__all__ = ["COUNT_RATE_CPS", "FORMATS", "MANIFEST_COLUMNS", "TRAINING_FRAMES", "GatedSpec", "GatedStudy",
           "generate_gated_studies", "labelme_json", "observer_polygons", "read_gated_manifest",
           "training_frames", "write_gated_set"]
