"""Neonatal chest radiograph phantoms (AP, supine) with true lung masks, RDS label and grade, and devices.

Each image is a map of projected density (soft tissue 1 per unit thickness) drawn in thorax coordinates
(u across, v down, both about -1..1 over the thorax), so anatomy scales with the image size: a body of soft
tissue with neck and arms; two lungs (superellipses with a wobbling outline, the patient's right on the
image left) whose air lowers the density; the heart (over the left lung, excluded from the lung mask),
thymus and mediastinum; spine with vertebral bodies; nine pairs of ribs; clavicles; the diaphragm and
abdomen below the lungs.

RDS (``rds_fraction`` of the images, grade I-IV drawn uniformly) makes the lungs smaller (hypoinflation)
and fills them with a diffuse reticulogranular / ground-glass opacity that rises with the grade (IV is a
white-out), with air bronchograms (dark branching lines from the hilum) from grade II. Normal lungs keep a
faint vascular texture.

Devices (endotracheal tube, nasogastric tube, umbilical venous and arterial catheters, ECG leads) are in
``device_rate`` of the images (each device then with probability 0.6, at least one); with ``confounded``
that rate is ``confounded_rates[rds]`` instead, so devices go with RDS (the shortcut a whole-image
classifier can learn). Exposure (offset, gain, gamma), detector blur and noise vary per image;
``rotated_rate`` of the images are stored rotated by +/-90 degrees (mask too), the case the study's
rotation test-time augmentation was made for.

The ``realistic`` style (``ChestSpec.style``; ``adult_rate`` of its bodies adult, PA, the others neonatal, AP) is
for lung segmenters that must hold up on real radiographs: a trunk that fills the frame with a chest wall, lungs
drawn as anatomical outlines (apex, lateral wall, sharp costophrenic angle, diaphragm dome, the heart's border on
the left) whose air thins towards their edges, vessels from the hila, posterior ribs with a brighter cortex and
fainter anterior ribs, clavicles, scapular edges and breast shadows (adults), a stomach bubble; then patient
tilt (+/-10 degrees), detector blur, scatter, a heel-effect gradient, a random window and S-shaped display curve,
noise, collimation borders and burned-in text markers (R, L, AP, a line of text). Adults carry no devices.
The ``varied`` style spreads that further where real lungs are harder to see than the realistic phantom's: the
body smaller in the frame (air beside it, adults' arms at their sides), lungs of less air contrast with softer
edges, denser soft tissue over the bases and apices, patchier lungs with denser vessels, a heart and diaphragm of
varied density, denser breasts. The ``dense`` style is the varied one (the same image for the same seed and index)
with what still cuts real lungs short: local opacities inside the lungs (consolidation, overlapping soft tissue,
clustered vessels; up to nearly soft-tissue density, still lung in the mask) and thick hilar vessel trunks.

Pixels are 12-bit display values (0..4095, larger = denser, as MONOCHROME2). Determinism: image ``i``
draws everything from ``SeedSequence(seed, spawn_key=(i,))``, so the same seed gives the same bytes and
a smaller ``n`` gives a prefix of a larger set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont
from scipy import ndimage

from nmkit.atomic import atomic_dir
from nmkit.errors import InputError
from nmkit.phantoms.table import check_target, read_table, write_table
from nmkit.io.dx_write import MAX_VALUE, PHOTOMETRICS, write_dx_dicom
from nmkit.io.labelme import mask_to_polygon, write_labelme

DEVICES = ("ett", "ngt", "uvc", "uac", "ecg")
"""Endotracheal tube, nasogastric tube, umbilical venous / arterial catheter, ECG leads."""
DEVICE_SHARE = 0.6
"""Chance of each device in an image that has devices."""
GRADE_OPACITY = (0.0, 0.30, 0.48, 0.66, 0.88)
"""Opacity per RDS grade 0 (none) to IV, as a fraction of the lung's air density."""
CSV_COLUMNS = ("filepath", "rds", "exist_json", "roi_area", "height", "width", "grade", "devices", "has_device",
               "rotated", "mask", "json")
"""The study's columns (filepath, rds, exist_json, roi_area, height, width), then the phantom's truth."""
FORMATS = ("png", "dicom")
STYLES = ("simple", "realistic", "varied", "dense")
"""``simple``: the neonatal phantom above; ``realistic``: adult and neonatal bodies closer to real radiographs;
``varied``: the realistic bodies with a wider spread of what makes real lungs harder to see; ``dense``: the varied
ones with local opacities and hilar trunks inside the lungs (module docstring)."""
LUNG_LABEL = "lung"


@dataclass(frozen=True)
class ChestSpec:
    """What to generate: image ``shape`` (rows, cols), field of view, RDS mix, devices, exposure and noise."""

    shape: tuple[int, int] = (512, 512)
    field_mm: float = 200.0
    rds_fraction: float = 0.54
    device_rate: float = 0.5
    confounded: bool = False
    confounded_rates: tuple[float, float] = (0.1, 0.9)
    noise_range: tuple[float, float] = (0.004, 0.02)
    gamma_range: tuple[float, float] = (0.8, 1.25)
    rotated_rate: float = 0.05
    style: str = "simple"
    adult_rate: float = 0.5

    def __post_init__(self) -> None:
        shape = tuple(int(v) for v in self.shape)
        if len(shape) != 2 or not all(32 <= v <= 4096 for v in shape):
            raise ValueError(f"shape must be (rows, cols), each 32-4096, not {self.shape}")
        object.__setattr__(self, "shape", shape)
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, not {self.style!r}")
        for name in ("rds_fraction", "device_rate", "rotated_rate", "adult_rate"):
            if not 0 <= float(getattr(self, name)) <= 1:
                raise ValueError(f"{name} must be 0-1, not {getattr(self, name)}")
        rates = tuple(float(v) for v in self.confounded_rates)
        if len(rates) != 2 or not all(0 <= v <= 1 for v in rates):
            raise ValueError(f"confounded_rates must be (non-RDS rate, RDS rate) in 0-1, not {self.confounded_rates}")
        object.__setattr__(self, "confounded_rates", rates)
        for name, (low, high) in {"noise_range": (0.0, 0.1), "gamma_range": (0.5, 2.0)}.items():
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != 2 or not low <= value[0] <= value[1] <= high:
                raise ValueError(f"{name} must be (low, high) with {low} <= low <= high <= {high}, not {value}")
            object.__setattr__(self, name, value)
        if not 50 <= float(self.field_mm) <= 500:
            raise ValueError(f"field_mm must be 50-500, not {self.field_mm}")

    @property
    def pixel_mm(self) -> float:
        return float(self.field_mm) / max(self.shape)


@dataclass
class ChestXray:
    """One radiograph: ``pixels`` (H, W) uint16 display values, ``lung_mask`` (H, W) bool, the RDS label and
    grade (0 without RDS, 1-4), the devices present, and the rotation stored (0, 90 or -90 degrees)."""

    pixels: np.ndarray
    lung_mask: np.ndarray
    rds: int
    grade: int
    devices: tuple[str, ...]
    rotated: int
    pixel_mm: float


def bezier(points, steps: int = 16) -> list[tuple[float, float]]:
    """``steps + 1`` points along the quadratic Bezier of 3 control points (u, v)."""
    (u0, v0), (u1, v1), (u2, v2) = points
    t = np.linspace(0, 1, steps + 1)
    us = (1 - t) ** 2 * u0 + 2 * (1 - t) * t * u1 + t ** 2 * u2
    vs = (1 - t) ** 2 * v0 + 2 * (1 - t) * t * v1 + t ** 2 * v2
    return list(zip(us.tolist(), vs.tolist()))


class _Canvas:
    """A density map in thorax coordinates; shapes are added inside their bounding box only."""

    def __init__(self, shape: tuple[int, int], centre: tuple[float, float], half: tuple[float, float]):
        self.shape = shape
        self.density = np.zeros(shape, dtype=np.float64)
        self.centre, self.half = centre, half
        rows, cols = np.arange(shape[0], dtype=np.float64), np.arange(shape[1], dtype=np.float64)
        self.v = ((rows - centre[0]) / half[0])[:, None]
        self.u = ((cols - centre[1]) / half[1])[None, :]
        self.line_px = max(0.7, 0.0035 * min(shape))

    def pixel(self, u: float, v: float) -> tuple[float, float]:
        return self.centre[0] + v * self.half[0], self.centre[1] + u * self.half[1]

    def _coverage(self, p0, p1, radius_px: float) -> tuple[tuple[slice, slice], np.ndarray] | None:
        """Anti-aliased coverage (0..1) of the segment p0-p1 (u, v) thickened to ``radius_px``, in its box."""
        (r0, c0), (r1, c1) = self.pixel(*p0), self.pixel(*p1)
        reach = radius_px + 1
        rows = slice(max(int(min(r0, r1) - reach), 0), min(int(max(r0, r1) + reach) + 1, self.shape[0]))
        cols = slice(max(int(min(c0, c1) - reach), 0), min(int(max(c0, c1) + reach) + 1, self.shape[1]))
        if rows.start >= rows.stop or cols.start >= cols.stop:
            return None
        rr = np.arange(rows.start, rows.stop, dtype=np.float64)[:, None]
        cc = np.arange(cols.start, cols.stop, dtype=np.float64)[None, :]
        dr, dc = r1 - r0, c1 - c0
        t = np.clip(((rr - r0) * dr + (cc - c0) * dc) / max(dr * dr + dc * dc, 1e-9), 0.0, 1.0)
        dist = np.hypot(rr - r0 - t * dr, cc - c0 - t * dc)
        return (rows, cols), np.clip(radius_px + 0.5 - dist, 0.0, 1.0)

    def strokes(self, polylines, radius_px: float) -> np.ndarray:
        """Coverage map of polylines (each a list of (u, v) points), overlaps counted once."""
        cover = np.zeros(self.shape, dtype=np.float64)
        for points in polylines:
            for p0, p1 in zip(points[:-1], points[1:]):
                part = self._coverage(p0, p1, radius_px)
                if part is not None:
                    box, value = part
                    np.maximum(cover[box], value, out=cover[box])
        return cover

    def capsule(self, p0, p1, radius_px: float, value: float) -> None:
        """Add ``value`` over the segment p0-p1 (u, v) thickened to ``radius_px`` pixels."""
        self.density += value * self.strokes([[p0, p1]], radius_px)

    def curve(self, points, radius_px: float, value: float, steps: int = 16) -> None:
        """Add ``value`` along a quadratic Bezier through 3 control points (u, v)."""
        self.density += value * self.strokes([bezier(points, steps)], radius_px)

    def ellipse(self, centre, half_u: float, half_v: float, angle: float = 0.0) -> np.ndarray:
        """Boolean map of a (rotated) ellipse."""
        du, dv = self.u - centre[0], self.v - centre[1]
        cos, sin = np.cos(angle), np.sin(angle)
        return ((du * cos + dv * sin) / half_u) ** 2 + ((-du * sin + dv * cos) / half_v) ** 2 <= 1.0


def _lung(canvas: _Canvas, side: float, inflation: float, rng: np.random.Generator) -> np.ndarray:
    """One lung (side -1: image left = patient right) as a superellipse with a wobbling outline."""
    u = rng.uniform
    half_u = 0.36 * u(0.92, 1.08) * (0.94 + 0.06 * inflation)
    half_v = 0.55 * inflation * u(0.94, 1.06)
    centre_u = side * (0.50 + u(-0.03, 0.03))
    centre_v = -0.78 + half_v + u(-0.03, 0.03)
    du, dv = (canvas.u - centre_u) / half_u, (canvas.v - centre_v) / half_v
    exponent = np.where(dv > 0, 2.6, 2.0)  # flatter dome and sharper costophrenic angle below
    radius = (np.abs(du) ** exponent + np.abs(dv) ** exponent) ** (1 / exponent)
    theta = np.arctan2(dv, du)
    wobble = sum(u(0.0, 0.05) * np.cos(k * theta + u(0, 2 * np.pi)) for k in (2, 3, 4))
    medial = side * canvas.u > 0.08 + (0.06 if side > 0 else 0.02)  # mediastinum
    return (radius <= 1.0 + wobble) & medial


def _texture(shape: tuple[int, int], sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """Smoothed white noise scaled to 0..1."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma_px)
    low, high = field.min(), field.max()
    return (field - low) / max(high - low, 1e-12)


def _lung_opacities(canvas: _Canvas, rng: np.random.Generator) -> np.ndarray:
    """Local opacities of the dense style (0..1, scaled to a density by the caller): 1-5 soft-edged patches per
    lung, mostly in the middle and lower zones, textured."""
    out = np.zeros(canvas.shape)
    for side in (-1.0, 1.0):
        for _ in range(int(rng.integers(1, 6))):
            centre = (side * rng.uniform(0.2, 0.85), rng.uniform(-0.55, 0.65))
            patch = canvas.ellipse(centre, rng.uniform(0.06, 0.3), rng.uniform(0.05, 0.25), rng.uniform(-1.0, 1.0))
            edge = rng.uniform(1.0, 5.0) * canvas.line_px
            np.maximum(out, rng.uniform(0.3, 0.95) * ndimage.gaussian_filter(patch.astype(np.float64), edge), out=out)
    return np.clip(out * (0.6 + 0.8 * _texture(canvas.shape, 2 * canvas.line_px, rng)), 0.0, 1.0)


def _hilar_branches(rng: np.random.Generator, side: float, count: int, start_u: tuple[float, float],
                    start_v: tuple[float, float], angle: tuple[float, float], length: tuple[float, float],
                    bend: float) -> list[list[tuple[float, float]]]:
    """``count`` curved branches (quadratic Beziers) from the hilum on ``side`` (-1: the image's left) outwards: a
    start drawn from ``start_u`` (away from the midline) and ``start_v``, a direction from ``angle`` (radians, 0:
    straight out, > 0: down), a length from ``length``, the middle moved by up to ``bend``."""
    branches = []
    for _ in range(count):
        start = (side * rng.uniform(*start_u), rng.uniform(*start_v))
        direction, reach = rng.uniform(*angle), rng.uniform(*length)
        end = (start[0] + side * reach * np.cos(direction), start[1] + reach * np.sin(direction))
        mid = ((start[0] + end[0]) / 2 + rng.uniform(-bend, bend), (start[1] + end[1]) / 2 + rng.uniform(-bend, bend))
        branches.append(bezier([start, mid, end], 8))
    return branches


def _hilar_trunks(canvas: _Canvas, rng: np.random.Generator) -> np.ndarray:
    """Coverage of thick vessel trunks from each hilum, outwards and down (the dense style)."""
    trunks = [branch for side in (-1.0, 1.0) for branch in _hilar_branches(
        rng, side, int(rng.integers(4, 10)), (0.12, 0.25), (-0.25, 0.15), (-0.5 * np.pi, 0.6 * np.pi), (0.1, 0.35),
        0.04)]
    return canvas.strokes(trunks, rng.uniform(1.5, 3.5) * canvas.line_px)


def _devices_present(spec: ChestSpec, rds: int, rng: np.random.Generator) -> tuple[str, ...]:
    """No device, or (with the rate) each device with probability :data:`DEVICE_SHARE`, at least one."""
    rate = spec.confounded_rates[rds] if spec.confounded else spec.device_rate
    present, draws, fallback = rng.random() < rate, rng.random(len(DEVICES)), int(rng.integers(len(DEVICES)))
    if not present:
        return ()
    chosen = tuple(name for name, draw in zip(DEVICES, draws) if draw < DEVICE_SHARE)
    return chosen or (DEVICES[fallback],)


def _draw_devices(canvas: _Canvas, devices: tuple[str, ...], rng: np.random.Generator) -> None:
    u, w = rng.uniform, canvas.line_px
    top = -canvas.centre[0] / canvas.half[0] - 0.05
    bottom = (canvas.shape[0] - canvas.centre[0]) / canvas.half[0] + 0.05
    if "ett" in devices:  # a hollow tube ending above the carina, with a radio-opaque stripe
        tip, x = u(-0.62, -0.45), u(-0.03, 0.03)
        canvas.capsule((x, top), (x, tip), 2.6 * w, 0.9)
        canvas.capsule((x, top), (x, tip), 1.4 * w, -0.6)
        canvas.capsule((x + 0.015, top), (x + 0.015, tip), 0.6 * w, 1.0)
    if "ngt" in devices:  # down the oesophagus into the stomach below the left hemidiaphragm
        canvas.curve([(u(-0.06, -0.02), top), (u(-0.04, 0.04), 0.3), (u(0.25, 0.4), u(0.7, 0.85))], w, 1.2)
    if "uvc" in devices:  # from the umbilicus up to the right atrium
        canvas.curve([(u(-0.05, 0.05), bottom), (u(-0.15, -0.05), 0.8), (u(-0.05, 0.05), u(0.2, 0.35))], w, 1.2)
    if "uac" in devices:  # loops down to the iliac artery, then up the aorta left of the spine
        x = u(0.05, 0.1)
        canvas.curve([(u(-0.05, 0.05), bottom), (u(0.25, 0.35), bottom + 0.1), (x, 0.6)], w, 1.2)
        canvas.capsule((x, 0.6), (x, u(-0.15, 0.0)), w, 1.2)
    if "ecg" in devices:  # three electrodes with wires running off the image
        for _ in range(3):
            eu, ev = u(-0.8, 0.8), u(-0.7, 0.6)
            for radius_px, value in ((0.05 * canvas.half[1], 0.5), (0.02 * canvas.half[1], 1.5)):
                canvas.capsule((eu, ev), (eu, ev), radius_px, value)
            edge = np.sign(eu) * 2.0
            canvas.curve([(eu, ev), ((eu + edge) / 2, ev + u(-0.3, 0.3)), (edge, ev + u(-0.5, 0.5))], 0.8 * w, 1.0)


def generate_chest_xray(spec: ChestSpec, seed: int, index: int = 0) -> ChestXray:
    """Image ``index`` of the set drawn with ``seed`` (see the module docstring)."""
    if spec.style in ("realistic", "varied", "dense"):
        return _realistic_xray(spec, seed, index)
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(index),)))
    u = rng.uniform
    rows, cols = spec.shape
    rds = int(rng.random() < spec.rds_fraction)
    grade = int(rng.integers(1, 5)) if rds else 0
    inflation = u(0.76, 0.9) - 0.02 * grade if rds else u(0.92, 1.08)
    centre = (rows * u(0.50, 0.56), cols * u(0.47, 0.53))
    half = (rows * 0.40 * u(0.92, 1.05), cols * 0.36 * u(0.92, 1.05))
    canvas = _Canvas(spec.shape, centre, half)
    c = canvas

    # Soft tissue: trunk, neck, arms; abdomen below the diaphragm.
    c.density += 1.0 * c.ellipse((0.0, 0.35), 1.12, 1.45)
    c.density += 0.8 * ((np.abs(c.u) < 0.28) & (c.v < -0.8))
    c.density += 0.7 * ((np.abs(np.abs(c.u) - 1.32) < 0.13) & (c.v < 0.7))
    c.density += 0.25 * c.ellipse((0.0, 1.05), 1.05, 0.55)
    # Lungs: air lowers the density; the heart covers part of the left lung.
    lungs = _lung(c, -1.0, inflation, rng) | _lung(c, 1.0, inflation, rng)
    heart = c.ellipse((u(0.12, 0.2), u(0.22, 0.3)), 0.38 * u(0.9, 1.12), 0.25 * u(0.9, 1.1), u(-0.5, -0.2))
    lung_mask = lungs & ~heart
    air = ndimage.gaussian_filter(lung_mask.astype(np.float64), 0.004 * min(spec.shape) + 0.3)
    air_density = 0.75 * u(0.9, 1.1)
    granular = _texture(spec.shape, 0.006 * min(spec.shape) + 0.4, rng)
    opacity = GRADE_OPACITY[grade] * (0.7 + 0.6 * granular) if rds else 0.08 * granular
    c.density -= air_density * air * (1.0 - np.clip(opacity, 0.0, 1.0))
    if grade >= 2:  # air bronchograms: dark branches from each hilum over the opacified lung
        branches = [branch for side in (-1.0, 1.0) for branch in _hilar_branches(
            rng, side, (grade + 1) * 2, (0.25, 0.35), (-0.35, -0.05), (-0.45 * np.pi, 0.45 * np.pi), (0.2, 0.45), 0.04)]
        dark = c.strokes(branches, 0.9 * c.line_px) * lung_mask
        c.density -= 0.5 * air_density * GRADE_OPACITY[grade] * dark
    # Mediastinum, thymus, heart.
    c.density += 0.45 * ((np.abs(c.u) < 0.13) & (c.v > -0.95) & (c.v < 0.6))
    c.density += 0.35 * c.ellipse((u(-0.05, 0.08), -0.42), 0.22 * u(0.8, 1.3), 0.22 * u(0.8, 1.2))
    c.density += 0.4 * heart
    # Skeleton: spine and vertebral bodies, ribs, clavicles.
    spine = np.abs(c.u) < 0.07
    c.density += spine * (0.45 + 0.2 * (np.cos(2 * np.pi * (c.v + u(0, 0.1)) / 0.105) > -0.2))
    ribs = [bezier([(side * 0.07, v0), (side * 0.55, v0 - 0.06), (side * 0.95, v0 + 0.22)], 12)
            for v0 in -0.8 + 0.16 * np.arange(9) + u(-0.015, 0.015, 9) for side in (-1.0, 1.0)]
    c.density += 0.28 * c.strokes(ribs, 0.022 * half[0])
    for side in (-1.0, 1.0):
        c.capsule((side * 0.1, -0.86), (side * u(0.55, 0.65), u(-1.0, -0.92)), 0.028 * half[0], 0.4)
    devices = _devices_present(spec, rds, rng)
    _draw_devices(c, devices, rng)

    # Exposure: detector blur, a per-image gamma and gain, noise; 12-bit display values.
    density = ndimage.gaussian_filter(np.clip(c.density, 0.0, None), 0.6)
    gamma, offset = u(*spec.gamma_range), u(80.0, 400.0)
    gain = (MAX_VALUE - offset - 80.0) * u(0.85, 1.0)
    signal = offset + gain * np.clip(density / 3.6, 0.0, 1.0) ** gamma
    signal += rng.standard_normal(spec.shape) * u(*spec.noise_range) * MAX_VALUE
    pixels = np.clip(np.rint(signal), 0, MAX_VALUE).astype(np.uint16)
    rotated = int(rng.choice((90, -90))) if rng.random() < spec.rotated_rate else 0
    if rotated:
        pixels, lung_mask = np.rot90(pixels, rotated // 90).copy(), np.rot90(lung_mask, rotated // 90).copy()
    return ChestXray(pixels, lung_mask, rds, grade, devices, rotated, spec.pixel_mm)


# --- The realistic style: adult and neonatal bodies, anatomical lung outlines, scatter, collimation, markers. ---

def _smooth_closed(points: np.ndarray, steps: int = 12) -> np.ndarray:
    """A closed Catmull-Rom curve through control points (K, 2)."""
    p = np.asarray(points, dtype=np.float64)
    p0, p1, p2, p3 = np.roll(p, 1, 0), p, np.roll(p, -1, 0), np.roll(p, -2, 0)
    t = np.linspace(0, 1, steps, endpoint=False)[None, :, None]
    curve = 0.5 * (2 * p1[:, None] + (p2 - p0)[:, None] * t + (2 * p0 - 5 * p1 + 4 * p2 - p3)[:, None] * t ** 2
                   + (3 * p1 - p0 - 3 * p2 + p3)[:, None] * t ** 3)
    return curve.reshape(-1, 2)


def _fill(canvas: _Canvas, outline_uv: np.ndarray) -> np.ndarray:
    """Boolean map of the polygon ``outline_uv`` (K, 2) drawn in thorax coordinates."""
    picture = PILImage.new("1", (canvas.shape[1], canvas.shape[0]), 0)
    xy = [(canvas.centre[1] + u * canvas.half[1], canvas.centre[0] + v * canvas.half[0]) for u, v in outline_uv]
    ImageDraw.Draw(picture).polygon(xy, fill=1)
    return np.asarray(picture, dtype=bool)


def _lung_outline(side: float, adult: bool, heart_edge: float, rng: np.random.Generator) -> np.ndarray:
    """Control points (u, v) of one lung: apex, lateral wall, costophrenic angle, diaphragm dome, medial border
    (on the left lung, the heart's border)."""
    u = rng.uniform
    apex_v = u(-0.95, -0.82) if adult else u(-0.85, -0.7)
    lateral = u(0.76, 0.9)
    base = u(0.5, 0.72) if adult else u(0.38, 0.55)
    dome = base - u(0.2, 0.35) + (0.05 if side > 0 else -0.02)
    medial = u(0.09, 0.14)
    points = [(0.3 * lateral + u(0.0, 0.08), apex_v), (0.62 * lateral, apex_v + u(0.08, 0.14)),
              (0.9 * lateral, -0.45 + u(-0.05, 0.05)), (lateral, -0.05 + u(-0.05, 0.05)),
              (lateral - u(0.0, 0.04), base - 0.25), (lateral - u(0.02, 0.07), base),
              (lateral - u(0.12, 0.18), base - 0.06), (0.55 * lateral, dome), (0.3 * lateral, dome + u(0.02, 0.08))]
    if side > 0:  # the heart's left border bulges into the left lung
        points += [(heart_edge, dome + u(0.0, 0.06)), (heart_edge + u(-0.02, 0.03), 0.12), (0.5 * heart_edge + 0.08,
                   -0.18), (medial + u(0.02, 0.08), -0.35)]
    else:
        points += [(u(0.18, 0.26), dome + u(0.02, 0.08)), (u(0.16, 0.22), 0.1), (medial + 0.04, -0.3)]
    points += [(medial, -0.62), (0.2 * lateral, apex_v + 0.06)]
    return np.array([(side * pu, pv) for pu, pv in points])


def _markers(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Burned-in text as real images carry: a side marker (R or L) and sometimes a line of text; 0..1 map."""
    picture = PILImage.new("L", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(picture)
    size = int(min(shape) * rng.uniform(0.05, 0.1))
    font = ImageFont.load_default(size=max(size, 6))
    x, y = rng.uniform(0.02, 0.15) * shape[1], rng.uniform(0.02, 0.2) * shape[0]
    if rng.random() < 0.5:
        x = shape[1] - x - size
    draw.text((x, y), str(rng.choice(["R", "L", "PA", "AP", "SUPINE"])), fill=255, font=font)
    if rng.random() < 0.4:
        small = ImageFont.load_default(size=max(size // 2, 5))
        text = "".join(rng.choice(list("ABCDEFGHKLMNPRSTUVWXYZ0123456789 :/.")) for _ in range(int(rng.integers(6, 20))))
        draw.text((rng.uniform(0.02, 0.4) * shape[1], rng.choice([0.02, 0.9]) * shape[0]), text, fill=255, font=small)
    return np.asarray(picture, dtype=np.float64) / 255.0


def _display(density: np.ndarray, rng: np.random.Generator, spec: ChestSpec,
             curve: tuple[float, float] | None = None) -> np.ndarray:
    """Detector and processing: blur, scatter, a random window and S-shaped LUT, noise; 12-bit display values.
    ``curve``: (gamma, S-steepness) instead of the drawn ones (the dense style's milder curve)."""
    u = rng.uniform
    rows, cols = density.shape
    density = ndimage.gaussian_filter(density, u(0.4, 1.6) * min(density.shape) / 256)
    density = density + u(0.0, 0.6) * ndimage.gaussian_filter(density, 0.08 * min(density.shape))  # scatter
    vv, uu = np.mgrid[0:rows, 0:cols] / max(rows, cols)
    density = density * (1 + u(-0.15, 0.15) * (vv - 0.5) + u(-0.1, 0.1) * (uu - 0.5))  # heel effect
    low, high = np.percentile(density, (u(0.0, 5.0), u(97.0, 100.0)))
    gamma, k = u(0.5, 1.8), u(0.5, 5.0)
    if curve is not None:
        gamma, k = curve
    t = np.clip((density - low) / max(high - low, 1e-9), 0.0, 1.0) ** gamma
    t = 0.5 + 0.5 * np.tanh(k * (t - 0.5)) / np.tanh(0.5 * k)
    t = t + rng.standard_normal(density.shape) * u(*spec.noise_range) * 1.5
    return np.clip(t, 0.0, 1.0)


def _realistic_xray(spec: ChestSpec, seed: int, index: int) -> ChestXray:
    """One image of the realistic, varied or dense style (see the module docstring). The varied style draws its extra
    spread from a stream of its own, so the realistic style keeps its bytes."""
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(index),)))
    u = rng.uniform
    varied = spec.style in ("varied", "dense")
    extra = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(index), 1)))
    dense = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(index), 2))) \
        if spec.style == "dense" else None

    def wider(value: float, low: float, high: float) -> float:
        """``value`` (the realistic style's), or for the varied style a draw from low..high."""
        return float(extra.uniform(low, high)) if varied else value

    rows, cols = spec.shape
    rds = int(rng.random() < spec.rds_fraction)
    grade = int(rng.integers(1, 5)) if rds else 0
    adult = bool(rng.random() < spec.adult_rate)
    zoom = wider(1.0, 0.55, 1.1)  # < 1: the body smaller in the frame, air beside it
    half = (rows * u(0.36, 0.5) * zoom, cols * u(0.38, 0.52) * zoom)
    centre = (rows * u(0.42, 0.58), cols * u(0.45, 0.55))
    c = _Canvas(spec.shape, centre, half)
    # Body: a thick trunk, neck, shoulders and (neonates) arms; abdomen below.
    width = u(1.15, 1.45)
    c.density += 1.2 * np.clip(1 - np.abs(c.u / width) ** u(3, 8), 0, 1) ** 0.5 * (c.v > -1.25)
    c.density += u(0.2, 0.5) * np.exp(-((np.abs(c.u) - u(0.92, 1.02)) / 0.1) ** 2) * (c.v > -0.9)  # chest wall
    c.density += 0.9 * np.sqrt(np.clip(1 - (c.u / 0.3) ** 2, 0, 1)) * (c.v < -0.9)
    for side in (-1.0, 1.0):
        c.density += 0.7 * c.ellipse((side * u(0.95, 1.15), u(-1.2, -0.95)), 0.35, 0.25)
        arm = not adult and rng.random() < 0.5
        if arm or (varied and adult and extra.random() < 0.5):  # (varied: adults' arms too)
            c.density += 0.6 * ((np.abs(side * c.u - u(1.3, 1.5)) < 0.14) & (c.v < 0.8))
    # Heart and lungs.
    ctr = u(0.42, 0.52) if adult else u(0.5, 0.62)
    heart_centre = (u(0.06, 0.14), u(0.15, 0.3))
    heart = c.ellipse(heart_centre, ctr * 0.85, u(0.32, 0.42), u(-0.6, -0.25))
    heart_edge = heart_centre[0] + ctr * 0.75
    lungs = np.zeros(spec.shape, dtype=bool)
    for side in (-1.0, 1.0):
        lungs |= _fill(c, _smooth_closed(_lung_outline(side, adult, heart_edge, rng)))
    lung_mask = lungs & ~heart
    if not lung_mask.any():
        lung_mask = lungs
    depth = ndimage.distance_transform_edt(lung_mask) / (wider(0.12, 0.1, 0.35) * half[1])
    air = ndimage.gaussian_filter(np.clip(depth, 0, 1) ** 0.6, 0.003 * min(spec.shape) + 0.3)
    bases = wider(u(0.0, 0.35), 0.2, 0.75)
    air *= 1 - bases * np.clip((c.v - wider(0.0, -0.35, 0.1)) / 0.6, 0, 1)  # soft tissue over the bases
    air *= 1 - wider(0.0, 0.0, 0.45) * np.clip((-0.55 - c.v) / 0.35, 0, 1)  # and over the apices
    granular = _texture(spec.shape, 0.006 * min(spec.shape) + 0.4, rng)
    opacity = GRADE_OPACITY[grade] * (0.7 + 0.6 * granular) if rds else wider(0.1, 0.1, 0.45) * granular
    c.density -= wider(u(0.6, 0.95), 0.4, 0.95) * air * (1 - np.clip(opacity, 0, 1))
    # Vessels: branches from each hilum, fading outwards.
    vessels = [branch for side in (-1.0, 1.0) for branch in _hilar_branches(
        rng, side, int(rng.integers(8, 16)), (0.15, 0.3), (-0.3, 0.1), (-0.45 * np.pi, 0.45 * np.pi), (0.2, 0.55),
        0.06)]
    c.density += u(0.08, 0.2) * wider(1.0, 1.0, 2.5) * c.strokes(vessels, u(0.6, 1.2) * c.line_px) * lung_mask
    if dense is not None:
        c.density += dense.uniform(0.3, 0.9) * _lung_opacities(c, dense) * lung_mask
        c.density += dense.uniform(0.15, 0.4) * _hilar_trunks(c, dense) * lung_mask
    # Mediastinum, trachea, heart, diaphragm and abdomen, stomach gas.
    c.density += 0.6 * ndimage.gaussian_filter(((np.abs(c.u) < u(0.14, 0.22)) & (c.v > -1.1)).astype(float), 2)
    c.density += 0.35 * c.ellipse((0.0, -0.5), u(0.14, 0.3) if not adult else 0.1, 0.25)
    c.density -= 0.3 * ((np.abs(c.u - u(-0.02, 0.02)) < 0.035) & (c.v < u(-0.45, -0.3)))
    c.density += wider(0.6, 0.3, 0.9) * ndimage.gaussian_filter(heart.astype(np.float64), 2)
    below = np.cumsum(lungs[::-1], axis=0)[::-1] == 0  # below the lowest lung pixel in each column
    c.density += wider(0.55, 0.3, 0.8) * ndimage.gaussian_filter((below & (c.v > 0.0)).astype(float), 1.5)
    c.density -= u(0.0, 0.4) * c.ellipse((u(0.3, 0.5), u(0.55, 0.8)), u(0.08, 0.18), u(0.05, 0.12))
    # Skeleton: spine, posterior ribs with brighter cortex, faint anterior ribs, clavicles, scapular edges.
    spine = np.abs(c.u) < 0.07
    c.density += spine * (0.1 + 0.06 * (np.cos(2 * np.pi * c.v / u(0.09, 0.12)) > -0.2))
    step, slope = (u(0.15, 0.18), u(0.25, 0.4)) if adult else (u(0.14, 0.17), u(0.08, 0.2))
    top = u(-0.95, -0.85)
    posterior = [bezier([(side * 0.07, v0), (side * 0.5, v0 - 0.1), (side * 1.0, v0 + slope)], 14)
                 for v0 in top + step * np.arange(10) + u(-0.015, 0.015, 10) for side in (-1.0, 1.0)]
    thick = u(0.018, 0.03) * half[0]
    rib_value = u(0.2, 0.45)
    c.density += rib_value * (c.strokes(posterior, thick) - 0.5 * c.strokes(posterior, 0.5 * thick))
    anterior = [bezier([(side * 0.95, v0 + 0.1), (side * 0.6, v0 + 0.2), (side * 0.3, v0 + 0.45)], 10)
                for v0 in top + 0.1 + step * np.arange(6) for side in (-1.0, 1.0)]
    c.density += 0.4 * rib_value * c.strokes(anterior, 0.8 * thick)
    for side in (-1.0, 1.0):
        y0 = u(-1.0, -0.85) if adult else u(-0.95, -0.8)
        c.curve([(side * 0.1, y0), (side * 0.4, y0 + u(-0.1, 0.05)), (side * u(0.7, 0.9), y0 - u(0.05, 0.15))],
                u(0.025, 0.04) * half[0], 0.4)
        if adult:
            c.curve([(side * 0.95, -0.9), (side * u(0.75, 0.85), -0.5), (side * 0.9, u(-0.1, 0.1))], 0.012 * half[0],
                    0.15)
    if adult and rng.random() < 0.5:  # breast shadows over the bases
        for side in (-1.0, 1.0):
            c.density += u(0.1, 0.3) * ndimage.gaussian_filter(
                c.ellipse((side * 0.6, u(0.45, 0.7)), 0.4, 0.3).astype(np.float64), 3)
    if varied and adult and extra.random() < 0.6:  # denser breast shadows with a sharp lower edge
        for side in (-1.0, 1.0):
            c.density += extra.uniform(0.2, 0.5) * ndimage.gaussian_filter(
                c.ellipse((side * extra.uniform(0.45, 0.7), extra.uniform(0.4, 0.75)), 0.45, 0.35).astype(float), 1.5)
    devices = _devices_present(spec, rds, rng) if not adult else ()
    _draw_devices(c, devices, rng)
    density = np.clip(c.density, 0.0, None)
    # Patient tilt and rotation, then detector, collimation and burned-in markers.
    angle = u(-10, 10)
    density = ndimage.rotate(density, angle, reshape=False, order=1, mode="nearest")
    lung_mask = ndimage.rotate(lung_mask.astype(np.uint8), angle, reshape=False, order=0) > 0
    signal = _display(density, rng, spec, None if dense is None else (dense.uniform(0.5, 1.2), dense.uniform(0.5, 2.5)))
    if rng.random() < 0.4:
        edges = (u(0, 0.08, 4) * np.array([rows, rows, cols, cols])).astype(int)
        level = float(rng.choice([0.0, 1.0])) if rng.random() < 0.7 else u(0.0, 1.0)
        frame = np.ones(spec.shape, dtype=bool)
        frame[edges[0]:rows - edges[1], edges[2]:cols - edges[3]] = False
        signal[frame] = level
        lung_mask &= ~frame
    if rng.random() < 0.7:
        signal = np.maximum(signal, _markers(spec.shape, rng) * u(0.8, 1.0))
    pixels = np.clip(np.rint(signal * MAX_VALUE), 0, MAX_VALUE).astype(np.uint16)
    rotated = int(rng.choice((90, -90))) if rng.random() < spec.rotated_rate else 0
    if rotated:
        pixels, lung_mask = np.rot90(pixels, rotated // 90).copy(), np.rot90(lung_mask, rotated // 90).copy()
    return ChestXray(pixels, lung_mask, rds, grade, devices, rotated, spec.pixel_mm)


def generate_chest_xrays(spec: ChestSpec, n: int, seed: int = 0, *, start: int = 0) -> list[ChestXray]:
    """Images ``start`` .. ``start + n - 1`` of the set drawn with ``seed``."""
    return [generate_chest_xray(spec, seed, i) for i in range(start, start + n)]


def lung_polygons(mask: np.ndarray, min_fraction: float = 0.02) -> list[np.ndarray]:
    """Outline (K, 2 [x, y]) of each 8-connected lung region holding at least ``min_fraction`` of the mask."""
    regions, count = ndimage.label(mask, structure=np.ones((3, 3)))
    sizes = np.bincount(regions.ravel())[1:]
    keep = [i + 1 for i in np.argsort(-sizes) if sizes[i] >= min_fraction * max(sizes.sum(), 1)]
    return [mask_to_polygon(regions == label) for label in keep]


def to_png8(pixels: np.ndarray) -> np.ndarray:
    """12-bit display values as 8-bit grey (value >> 4)."""
    return (np.asarray(pixels, dtype=np.uint16) >> 4).astype(np.uint8)


def write_chest_set(out_dir: str | Path, spec: ChestSpec, n: int, seed: int = 0, fmt: str = "png",
                    photometric: str = "MONOCHROME2", progress: Callable[[int], Any] | None = None) -> Path:
    """Write ``n`` radiographs with their lung masks, LabelMe outlines and the study's CSV to ``out_dir``.

    ``images/cxr_00000.png`` (8-bit grey) or ``.dcm`` (DX, 12-bit, ``photometric``); ``masks/cxr_00000.png``
    (0/255); ``json/cxr_00000.json`` (LabelMe polygons labelled "lung"); ``dataset.csv`` (columns
    :data:`CSV_COLUMNS`, paths relative to ``out_dir``). The folder is built under a temporary name and
    renamed at the end; an existing chest set there is replaced.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if photometric not in PHOTOMETRICS:
        raise ValueError(f"photometric must be one of {', '.join(PHOTOMETRICS)}, not {photometric!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, not {n}")
    out_dir = Path(out_dir)
    check_target(out_dir, "dataset.csv", CSV_COLUMNS, "chest")
    digits = max(5, len(str(n - 1)))
    rows = []
    with atomic_dir(out_dir) as tmp:
        for folder in ("images", "masks", "json"):
            (tmp / folder).mkdir()
        for i in range(n):
            xray = generate_chest_xray(spec, seed, i)
            name = f"cxr_{i:0{digits}d}"
            image_path = f"images/{name}.{'png' if fmt == 'png' else 'dcm'}"
            if fmt == "png":
                PILImage.fromarray(to_png8(xray.pixels)).save(tmp / image_path)
            else:
                write_dx_dicom(tmp / image_path, xray.pixels, xray.pixel_mm, photometric, patient_id=name.upper())
            PILImage.fromarray(xray.lung_mask.astype(np.uint8) * 255).save(tmp / f"masks/{name}.png")
            write_labelme(tmp / f"json/{name}.json", lung_polygons(xray.lung_mask), xray.lung_mask.shape,
                          image_path=f"../{image_path}", label=LUNG_LABEL)
            rows.append({"filepath": image_path, "rds": xray.rds, "exist_json": 1,
                         "roi_area": int(xray.lung_mask.sum()), "height": xray.pixels.shape[0],
                         "width": xray.pixels.shape[1], "grade": xray.grade, "devices": ";".join(xray.devices),
                         "has_device": int(bool(xray.devices)), "rotated": xray.rotated,
                         "mask": f"masks/{name}.png", "json": f"json/{name}.json"})
            if progress is not None:
                progress(i + 1)
        write_table(tmp / "dataset.csv", CSV_COLUMNS, rows)
    return out_dir


_CSV_TYPES: dict[str, Callable[[str], Any]] = {
    "filepath": str, "rds": int, "exist_json": int, "roi_area": int, "height": int, "width": int, "grade": int,
    "devices": str, "has_device": int, "rotated": int, "mask": str, "json": str}


def read_chest_csv(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``dataset.csv`` (the study's six columns required, the others optional), typed."""
    records = read_table(path, _CSV_TYPES, required=CSV_COLUMNS[:6], hint="make a set with `nmkit rds synth --out DIR`")
    if not records:
        raise InputError(path, "lists no images")
    return records


__all__ = ["CSV_COLUMNS", "DEVICES", "FORMATS", "GRADE_OPACITY", "ChestSpec", "ChestXray", "generate_chest_xray",
           "generate_chest_xrays", "lung_polygons", "read_chest_csv", "to_png8", "write_chest_set"]
