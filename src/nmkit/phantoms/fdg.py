"""18F-FDG kinetic phantoms: paired early and delayed whole-torso PET volumes in SUVbw with true lesion uptake.

Kinetics: each tissue's concentration is an FDG two-tissue compartment model, C_T = (1 - Vb) (h * Cp) + Vb Cp,
with h(t) = K1 / (a2 - a1) [(k3 + k4 - a1) e^(-a1 t) + (a2 - k3 - k4) e^(-a2 t)], driven by the Feng (1993)
plasma input function scaled to plasma SUV 1.6 at 60 min. Rate constants (per min) are literature values
(brain: Huang/Phelps 1980; myocardium, liver: Iozzo 2007 range; tumours: Dimitrakopoulou-Strauss 2021
range) varied per patient by a log-normal factor (sd ``rate_sd``); the bladder collects urine in
proportion to the plasma integral. Each frame is the mean decay-corrected SUV over its window (default the
study's 7-21 and 42-63 min after injection), so lesions gain uptake and background washes out: the true
delayed volume is not a scaled early one.

Anatomy (x left-right, y anterior-posterior = image rows, z head to pelvis = slices; mm): head and torso of
soft tissue, brain, two lungs, a left-ventricle myocardial shell with its blood pool, liver, two kidneys,
bladder and 0-``max_lesions`` spherical lesions (diameter 8-30 mm) in soft tissue, lung or liver. Organ
heights scale with the volume's axial extent (``slices`` x ``slice_mm``; 880 mm reaches head to pelvis).

Imaging: the label map at voxel resolution is filled with each tissue's frame SUV, blurred by a Gaussian PSF
(FWHM ``fwhm_mm_range``), drawn as Poisson counts with ``counts_per_suv_min`` expected counts per voxel per
SUV per minute of frame (times the decay at mid-frame), converted back and smoothed by a 0.6-voxel Gaussian
(the reconstruction's post-filter): a liver noise of about 10-15 % as clinical scans.

Determinism: patient ``i`` draws from ``SeedSequence(seed, spawn_key=(i,))``, so the same seed gives the
same bytes and a smaller ``n`` gives a prefix of a larger set.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from nmkit.atomic import atomic_dir
from nmkit.errors import InputError
from nmkit.phantoms.table import check_target, read_table, write_table
from nmkit.io.pet import write_suv_nifti

F18_HALF_LIFE_MIN = 109.77
DT_MIN = 0.05
FENG_INPUT = (851.1225, 21.8798, 20.8113, -4.13354, -0.01043, -0.1191)
"""Feng et al. 1993 plasma input (A1, A2, A3 per min-uCi/mL; lambda1-3 per min)."""
PLASMA_SUV_AT_60_MIN = 1.6
POST_FILTER_VOXELS = 0.6
MANIFEST_COLUMNS = ("patient", "early", "delayed", "labels", "n_lesions", "lesions")

TISSUES = {"soft_tissue": 1, "brain": 2, "lung": 3, "myocardium": 4, "blood_pool": 5, "liver": 6, "kidney": 7,
           "bladder": 8}
LESION_LABEL_BASE = 100
RATES = {  # K1, k2, k3, k4 (per min), blood volume fraction, tissue fraction (lung: air)
    "soft_tissue": (0.030, 0.150, 0.015, 0.0, 0.03, 1.0),
    "brain": (0.095, 0.125, 0.070, 0.0068, 0.05, 1.0),
    "lung": (0.050, 0.200, 0.010, 0.0, 0.15, 0.3),
    "myocardium": (0.600, 1.200, 0.120, 0.0, 0.10, 1.0),
    "liver": (0.864, 0.981, 0.010, 0.016, 0.30, 1.0),
    "kidney": (0.500, 0.600, 0.010, 0.0, 0.20, 1.0),
    "lesion": (0.200, 0.400, 0.180, 0.0, 0.05, 1.0),
}
LESION_K3_RANGE = (0.05, 0.40)
BLADDER_CLEARANCE_RANGE = (0.05, 0.25)
"""Bladder SUV per SUV-minute of plasma integral."""


@dataclass(frozen=True)
class FDGSpec:
    """What to generate: a (slices, size, size) volume of ``pixel_mm`` x ``pixel_mm`` x ``slice_mm`` voxels.

    Defaults are the study's voxel size and matrix (128 x 128) over head to pelvis (176 slices); windows are
    minutes after injection; ``rate_sd`` the log-normal spread of every rate constant between patients.
    """

    size: int = 128
    slices: int = 176
    pixel_mm: float = 5.3456
    slice_mm: float = 5.0
    early_window_min: tuple[float, float] = (7.0, 21.0)
    delayed_window_min: tuple[float, float] = (42.0, 63.0)
    max_lesions: int = 5
    fwhm_mm_range: tuple[float, float] = (6.5, 8.0)
    counts_per_suv_min: float = 0.3
    rate_sd: float = 0.2

    def __post_init__(self) -> None:
        for name in ("size", "slices", "max_lesions"):
            object.__setattr__(self, name, int(getattr(self, name)))
        for name in ("pixel_mm", "slice_mm", "counts_per_suv_min", "rate_sd"):
            object.__setattr__(self, name, float(getattr(self, name)))
        for name in ("early_window_min", "delayed_window_min", "fwhm_mm_range"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        if not 32 <= self.size <= 512:
            raise ValueError(f"size must be 32-512 voxels, not {self.size}")
        if not 8 <= self.slices <= 1024:
            raise ValueError(f"slices must be 8-1024, not {self.slices}")
        if self.size * self.pixel_mm < 400:
            raise ValueError(f"the field of view size * pixel_mm must be >= 400 mm to hold the body, "
                             f"not {self.size * self.pixel_mm:g}")
        if not 1 <= self.slice_mm <= 20:
            raise ValueError(f"slice_mm must be 1-20, not {self.slice_mm}")
        early, delayed = self.early_window_min, self.delayed_window_min
        if not (len(early) == len(delayed) == 2 and 0 < early[0] < early[1] <= delayed[0] < delayed[1] <= 180):
            raise ValueError(f"windows must satisfy 0 < early start < early end <= delayed start < delayed end "
                             f"<= 180 min, not {early} and {delayed}")
        low, high = self.fwhm_mm_range
        if not 0 < low <= high <= 30:
            raise ValueError(f"fwhm_mm_range must be (low, high) with 0 < low <= high <= 30, not {self.fwhm_mm_range}")
        if not 0 <= self.max_lesions <= 20:
            raise ValueError(f"max_lesions must be 0-20, not {self.max_lesions}")
        if self.counts_per_suv_min <= 0 or not 0 <= self.rate_sd <= 1:
            raise ValueError("counts_per_suv_min must be > 0 and rate_sd 0-1")

    @property
    def spacing(self) -> tuple[float, float, float]:
        """(dz, dy, dx) in mm."""
        return (self.slice_mm, self.pixel_mm, self.pixel_mm)


@dataclass
class Lesion:
    """One lesion: its label in ``labels``, centre voxel (z, y, x), diameter, host tissue and SUVs.

    ``true_suv_*`` is the lesion tissue's kinetic SUV (before blur and noise); ``suvmax_*`` the maximum of the
    written (blurred, noisy) volume over the lesion's voxels.
    """

    label: int
    centre: tuple[int, int, int]
    diameter_mm: float
    host: str
    true_suv_early: float
    true_suv_delayed: float
    suvmax_early: float
    suvmax_delayed: float


@dataclass
class FDGPatient:
    """Early and delayed SUVbw volumes (slices, H, W) float32, the label map (int16) and the lesions;
    ``delayed_noise_free`` (when asked for) is the delayed volume without Poisson noise: blurred and
    post-filtered, what a perfect predictor would give."""

    early: np.ndarray
    delayed: np.ndarray
    labels: np.ndarray
    lesions: list[Lesion]
    tissue_suv: dict[str, tuple[float, float]]
    fwhm_mm: float
    delayed_noise_free: np.ndarray | None = None


def plasma_input(t_min: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Plasma FDG in SUV at ``t_min``: the Feng input function scaled to :data:`PLASMA_SUV_AT_60_MIN` at 60 min."""
    a1, a2, a3, l1, l2, l3 = FENG_INPUT
    t = np.asarray(t_min, dtype=np.float64)
    feng = (a1 * t - a2 - a3) * np.exp(l1 * t) + a2 * np.exp(l2 * t) + a3 * np.exp(l3 * t)
    at_60 = a2 * np.exp(l2 * 60) + a3 * np.exp(l3 * 60) + (a1 * 60 - a2 - a3) * np.exp(l1 * 60)
    return np.maximum(feng, 0.0) * PLASMA_SUV_AT_60_MIN / at_60 * scale


def tissue_curve(t_min: np.ndarray, cp: np.ndarray, k1: float, k2: float, k3: float, k4: float,
                 blood_fraction: float = 0.0) -> np.ndarray:
    """Two-tissue compartment concentration on the uniform grid ``t_min`` (from 0) for the input ``cp``."""
    s = k2 + k3 + k4
    root = np.sqrt(s * s - 4 * k2 * k4)
    a1, a2 = (s - root) / 2, (s + root) / 2
    t = np.asarray(t_min, dtype=np.float64)
    impulse = k1 / (a2 - a1) * ((k3 + k4 - a1) * np.exp(-a1 * t) + (a2 - k3 - k4) * np.exp(-a2 * t))
    dt = float(t[1] - t[0])
    tissue = np.convolve(cp, impulse)[: len(t)] * dt
    return (1 - blood_fraction) * tissue + blood_fraction * cp


def _frame_mean(t: np.ndarray, curve: np.ndarray, window: tuple[float, float]) -> float:
    inside = (t >= window[0]) & (t <= window[1])
    return float(curve[inside].mean())


def _kinetics(spec: FDGSpec, rng: np.random.Generator, n_lesions: int) -> tuple[dict[str, tuple[float, float]],
                                                                                  list[tuple[float, float]]]:
    """(early, delayed) SUV of every tissue and of each lesion for one patient."""
    t = np.arange(0.0, spec.delayed_window_min[1] + DT_MIN, DT_MIN)
    cp = plasma_input(t, scale=float(rng.lognormal(0.0, 0.15)))
    windows = (spec.early_window_min, spec.delayed_window_min)

    def frames(curve: np.ndarray) -> tuple[float, float]:
        return tuple(_frame_mean(t, curve, w) for w in windows)  # type: ignore[return-value]

    def varied(name: str, k3: float | None = None) -> np.ndarray:
        k1, k2, k3_default, k4, vb, fraction = RATES[name]
        rates = np.array([k1, k2, k3_default if k3 is None else k3, k4]) * rng.lognormal(0.0, spec.rate_sd, 4)
        return fraction * tissue_curve(t, cp, *rates, blood_fraction=vb)

    suv = {name: frames(varied(name)) for name in RATES if name != "lesion"}
    suv["blood_pool"] = frames(cp)
    clearance = rng.uniform(*BLADDER_CLEARANCE_RANGE)
    suv["bladder"] = frames(clearance * np.cumsum(cp) * DT_MIN)
    lesions = [frames(varied("lesion", k3=rng.uniform(*LESION_K3_RANGE))) for _ in range(n_lesions)]
    return suv, lesions


def _ellipsoid(grid: tuple[np.ndarray, np.ndarray, np.ndarray], centre: tuple[float, float, float],
               axes: tuple[float, float, float]) -> np.ndarray:
    z, y, x = grid
    return (((z - centre[0]) / axes[0]) ** 2 + ((y - centre[1]) / axes[1]) ** 2
            + ((x - centre[2]) / axes[2]) ** 2) <= 1.0


def _anatomy(spec: FDGSpec, rng: np.random.Generator) -> np.ndarray:
    """The label map (slices, size, size) int16 of one patient's organs (no lesions yet)."""
    extent = spec.slices * spec.slice_mm
    z = (np.arange(spec.slices) + 0.5)[:, None, None] * spec.slice_mm
    yx = (np.arange(spec.size) - (spec.size - 1) / 2) * spec.pixel_mm
    grid = (z, yx[None, :, None], yx[None, None, :])
    u = rng.uniform
    width, depth = u(150, 185), u(95, 120)
    labels = np.zeros((spec.slices, spec.size, spec.size), dtype=np.int16)
    torso = (((grid[2] / width) ** 2 + (grid[1] / depth) ** 2) <= 1.0) & (z >= 0.2 * extent)
    head = _ellipsoid(grid, (0.1 * extent, 0.0, 0.0), (0.105 * extent, 95.0, 78.0))
    labels[torso | head] = TISSUES["soft_tissue"]

    def put(name: str, centre: tuple[float, float, float], axes: tuple[float, float, float]) -> None:
        jitter = (u(-0.01, 0.01) * extent, u(-8, 8), u(-8, 8))
        centre = tuple(c + j for c, j in zip(centre, jitter))
        labels[_ellipsoid(grid, centre, axes) & (labels > 0)] = TISSUES[name]

    put("brain", (0.09 * extent, -5.0, 0.0), (0.075 * extent, 80.0, 64.0))
    for side in (-1, 1):
        put("lung", (0.37 * extent, 5.0, side * 78.0), (0.13 * extent, 70.0, 55.0))
    heart = (0.43 * extent, -30.0, 25.0)
    labels[_ellipsoid(grid, heart, (0.05 * extent, 40.0, 45.0))] = TISSUES["myocardium"]
    labels[_ellipsoid(grid, heart, (0.033 * extent, 26.0, 30.0))] = TISSUES["blood_pool"]
    put("liver", (0.54 * extent, 10.0, -60.0), (0.085 * extent, 75.0, 85.0))
    for side in (-1, 1):
        put("kidney", (0.62 * extent, 55.0, side * 68.0), (0.05 * extent, 30.0, 28.0))
    put("bladder", (0.9 * extent, -20.0, 0.0), (max(0.035 * extent, 12.0), 35.0, 40.0))
    return labels


def _add_lesions(spec: FDGSpec, rng: np.random.Generator, labels: np.ndarray,
                 n: int) -> list[tuple[int, tuple[int, int, int], float, str]]:
    """Place up to ``n`` spherical lesions in soft tissue, lung or liver; (label, centre, diameter, host) each."""
    hosts = {TISSUES[name]: name for name in ("soft_tissue", "lung", "liver")}
    z0 = int(0.3 * spec.slices)
    candidates = np.argwhere(np.isin(labels[z0:], list(hosts)))
    placed = []
    for attempt in range(20 * n):
        if len(placed) == n or len(candidates) == 0:
            break
        cz, cy, cx = candidates[rng.integers(len(candidates))] + (z0, 0, 0)
        diameter = float(rng.uniform(8.0, 30.0))
        r = diameter / 2
        reach = [max(1, int(np.ceil(r / d))) for d in spec.spacing]
        box = tuple(slice(max(c - k, 0), min(c + k + 1, n_axis))
                    for c, k, n_axis in zip((cz, cy, cx), reach, labels.shape))
        zz, yy, xx = np.ogrid[box]
        sphere = (((zz - cz) * spec.slice_mm) ** 2 + ((yy - cy) * spec.pixel_mm) ** 2
                  + ((xx - cx) * spec.pixel_mm) ** 2) <= max(r, spec.pixel_mm / 2) ** 2
        region = labels[box]
        if not np.isin(region[sphere], list(hosts)).all():
            continue  # would touch another organ, another lesion or air
        label = LESION_LABEL_BASE + len(placed)
        host = hosts[int(labels[cz, cy, cx])]
        region[sphere] = label
        placed.append((label, (int(cz), int(cy), int(cx)), round(diameter, 2), host))
    return placed


def _post_filter(volume: np.ndarray) -> np.ndarray:
    return ndimage.gaussian_filter(volume, POST_FILTER_VOXELS, mode="constant").astype(np.float32)


def _image(spec: FDGSpec, rng: np.random.Generator, suv_map: np.ndarray, window: tuple[float, float],
           fwhm_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """The noisy frame and the blurred activity it was drawn from (not post-filtered)."""
    sigma = [fwhm_mm / 2.3548 / d for d in spec.spacing]
    blurred = np.maximum(ndimage.gaussian_filter(suv_map, sigma, mode="constant"), 0.0)
    minutes = window[1] - window[0]
    decay = 2.0 ** (-(window[0] + window[1]) / 2 / F18_HALF_LIFE_MIN)
    per_suv = spec.counts_per_suv_min * minutes * decay
    return _post_filter(rng.poisson(blurred * per_suv) / per_suv), blurred


def _patient(spec: FDGSpec, seed: int, index: int, noise_free: bool = False) -> FDGPatient:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
    labels = _anatomy(spec, rng)
    placed = _add_lesions(spec, rng, labels, int(rng.integers(0, spec.max_lesions + 1)))
    tissue_suv, lesion_suv = _kinetics(spec, rng, len(placed))
    fwhm = float(rng.uniform(*spec.fwhm_mm_range))
    volumes = []
    for phase, window in enumerate((spec.early_window_min, spec.delayed_window_min)):
        lookup = np.zeros(LESION_LABEL_BASE + max(len(placed), 1), dtype=np.float64)
        for name, code in TISSUES.items():
            lookup[code] = tissue_suv[name][phase]
        for (label, *_), suv in zip(placed, lesion_suv):
            lookup[label] = suv[phase]
        volume, blurred = _image(spec, rng, lookup[labels], window, fwhm)  # the delayed one is kept last
        volumes.append(volume)
    early, delayed = volumes
    lesions = [Lesion(label, centre, diameter, host, round(suv[0], 4), round(suv[1], 4),
                      float(early[labels == label].max()), float(delayed[labels == label].max()))
               for (label, centre, diameter, host), suv in zip(placed, lesion_suv)]
    return FDGPatient(early, delayed, labels, lesions, tissue_suv, fwhm, _post_filter(blurred) if noise_free else None)


def generate_fdg_patients(spec: FDGSpec, n: int, seed: int = 0, *, start: int = 0,
                          noise_free: bool = False) -> list[FDGPatient]:
    """Patients ``start`` .. ``start + n - 1`` of the set made with ``seed``; ``noise_free`` keeps each one's
    delayed volume without noise too (the same bytes otherwise)."""
    return [_patient(spec, int(seed), i, noise_free) for i in range(start, start + n)]


def write_fdg_set(out_dir: str | Path, spec: FDGSpec, n: int, seed: int = 0,
                  progress: Callable[[int], Any] | None = None) -> Path:
    """Write ``n`` patients as NIfTI pairs plus label maps and ``manifest.csv`` into ``out_dir``, atomically.

    ``patient_00000/early.nii.gz``, ``delayed.nii.gz`` (SUVbw float32) and ``labels.nii.gz`` (tissue codes
    :data:`TISSUES`, lesions from :data:`LESION_LABEL_BASE`); ``manifest.csv`` (columns
    :data:`MANIFEST_COLUMNS`; ``lesions`` a JSON list of :class:`Lesion` fields). An existing FDG set there
    is replaced. ``progress(done)`` is called after each patient.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, not {n}")
    out_dir = Path(out_dir)
    check_target(out_dir, "manifest.csv", MANIFEST_COLUMNS, "FDG")
    digits = max(5, len(str(n - 1)))
    rows = []
    with atomic_dir(out_dir) as tmp:
        for i in range(n):
            patient = _patient(spec, int(seed), i)
            name = f"patient_{i:0{digits}d}"
            paths = {key: f"{name}/{key}.nii.gz" for key in ("early", "delayed", "labels")}
            (tmp / name).mkdir()
            for key, volume, text in (("early", patient.early, "PT SUVbw early"),
                                      ("delayed", patient.delayed, "PT SUVbw delayed"),
                                      ("labels", patient.labels.astype(np.float32), "labels")):
                write_suv_nifti(tmp / paths[key], volume, spec.spacing, description=text)
            rows.append({"patient": name, **paths, "n_lesions": len(patient.lesions),
                         "lesions": json.dumps([vars(lesion) for lesion in patient.lesions])})
            if progress is not None:
                progress(i + 1)
        write_table(tmp / "manifest.csv", MANIFEST_COLUMNS, rows)
    return out_dir


_MANIFEST_TYPES: dict[str, Callable[[str], Any]] = {
    "patient": str, "early": str, "delayed": str, "labels": str, "n_lesions": int, "lesions": json.loads}


def read_fdg_manifest(path: str | Path) -> list[dict[str, Any]]:
    """The records of a ``manifest.csv`` written by :func:`write_fdg_set`; ``lesions`` parsed from JSON."""
    records = read_table(path, _MANIFEST_TYPES, hint="make a set with `nmkit pet synth --out DIR`")
    if not records:
        raise InputError(path, "lists no patients")
    return records


__all__ = ["FDGPatient", "FDGSpec", "Lesion", "LESION_LABEL_BASE", "MANIFEST_COLUMNS", "TISSUES",
           "generate_fdg_patients", "plasma_input", "read_fdg_manifest", "tissue_curve", "write_fdg_set"]
