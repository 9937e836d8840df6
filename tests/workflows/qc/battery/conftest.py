"""Phantoms with known truth for the QC battery: line sources, bar patterns, slit grids, SPECT volumes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nmkit.io import Image
from nmkit.io.dicom_write import write_nm_dicom

SIGMA_PER_FWHM = 1 / (2 * math.sqrt(2 * math.log(2)))


def lsf(distance_mm: np.ndarray, fwhm_mm: float) -> np.ndarray:
    """A Gaussian line spread function of peak 1."""
    return np.exp(-0.5 * (distance_mm / (fwhm_mm * SIGMA_PER_FWHM)) ** 2)


def four_bar(size: int = 200, header_mm: float = 2.0, true_mm: float = 2.0, fwhm_mm: float = 8.0,
             separation_mm: float = 100.0, vertical: bool = True, horizontal: bool = True,
             peak: float = 400.0, seed: int | None = 0) -> Image:
    """Two vertical and two horizontal lines ``separation_mm`` apart (a four-bar square), drawn on a grid of
    ``true_mm`` pixels while the header says ``header_mm``; Poisson counts unless ``seed`` is None."""
    centre = (size - 1) / 2
    rr, cc = np.indices((size, size), dtype=np.float64)
    x, y = (cc - centre) * true_mm, (rr - centre) * true_mm
    inside = lambda v: np.abs(v) <= 0.75 * separation_mm  # noqa: E731 (the bars' length)
    image = np.zeros((size, size))
    for sign in (-1, 1):
        if vertical:
            image += lsf(x - sign * separation_mm / 2, fwhm_mm) * inside(y)
        if horizontal:
            image += lsf(y - sign * separation_mm / 2, fwhm_mm) * inside(x)
    image = peak * image + 1.0
    if seed is not None:
        image = np.random.default_rng(seed).poisson(image).astype(np.float64)
    return Image(image, pixel_spacing=(header_mm, header_mm), modality="NM", path=Path("four-bar"))


def flood(size: int = 200, counts: float = 300.0, pixel_mm: float = 2.0, seed: int = 0) -> Image:
    image = np.random.default_rng(seed).poisson(counts, (size, size)).astype(np.float64)
    return Image(image, pixel_spacing=(pixel_mm, pixel_mm), modality="NM", path=Path("flood"))


def quadrant_bars(widths: tuple[float, ...] = (4.0, 3.0, 2.5, 2.0), size: int = 256, pixel_mm: float = 1.0,
                  fwhm_mm: float = 3.0, mean: float = 200.0, sine: bool = False, seed: int = 0) -> Image:
    """Four quadrants of bars (top-left, top-right, bottom-right, bottom-left take ``widths`` in turn; the
    bars alternate direction), blurred by a Gaussian of ``fwhm_mm``: square bars of lead and gap, or with
    ``sine`` a pure sinusoid whose modulation is exactly the Gaussian's MTF at the bars' frequency."""
    half = size // 2
    x = np.arange(half) * pixel_mm
    image = np.zeros((size, size))
    corners = ((0, 0), (0, half), (half, half), (half, 0))
    for i, (width, (r0, c0)) in enumerate(zip(widths, corners)):
        frequency = 1 / (2 * width)
        sigma = fwhm_mm * SIGMA_PER_FWHM
        transfer = math.exp(-2 * (math.pi * sigma * frequency) ** 2)
        if sine:
            profile = 1 + transfer * np.cos(2 * np.pi * frequency * x)
        else:  # square wave 0 / 2: the Fourier series of the blurred bars, odd harmonics
            profile = np.ones_like(x)
            for k in range(1, 60, 2):
                profile += (4 / (math.pi * k)) * (-1) ** ((k - 1) // 2) * math.exp(
                    -2 * (math.pi * sigma * k * frequency) ** 2) * np.cos(2 * np.pi * k * frequency * x)
        block = np.tile(profile, (half, 1)) if i % 2 == 0 else np.tile(profile[:, None], (1, half))
        image[r0:r0 + half, c0:c0 + half] = block
    counts = np.random.default_rng(seed).poisson(mean * np.clip(image, 0, None)).astype(np.float64)
    return Image(counts, pixel_spacing=(pixel_mm, pixel_mm), modality="NM", path=Path("quadrant-bars"))


def square_bar_mtf(width_mm: float, fwhm_mm: float) -> float:
    """Hander's moment MTF of the noise-free blurred square bars: sqrt(2 variance) / mean over the harmonics."""
    sigma, frequency = fwhm_mm * SIGMA_PER_FWHM, 1 / (2 * width_mm)
    amplitudes = [(4 / (math.pi * k)) * math.exp(-2 * (math.pi * sigma * k * frequency) ** 2) for k in range(1, 60, 2)]
    return math.sqrt(sum(a * a for a in amplitudes))


def slit_grid(size: int = 300, pixel_mm: float = 1.0, spacing_mm: float = 30.0, fwhm_mm: float = 4.0,
              bump_mm: float = 0.0, horizontal: bool = True, peak: float = 300.0, seed: int = 0) -> Image:
    """Parallel slit images ``spacing_mm`` apart in a square field; the middle line bends by a Gaussian bump of
    ``bump_mm`` (sigma 40 mm) about the field's centre, the rest are straight."""
    centre = (size - 1) / 2
    rr, cc = np.indices((size, size), dtype=np.float64)
    across, along = (rr - centre) * pixel_mm, (cc - centre) * pixel_mm
    offsets = np.arange(-(size * pixel_mm / 2 - 25) // spacing_mm, (size * pixel_mm / 2 - 25) // spacing_mm + 1)
    image = np.zeros((size, size))
    for k in offsets:
        shift = bump_mm * np.exp(-0.5 * (along / 40.0) ** 2) if k == 0 else 0.0
        image += lsf(across - k * spacing_mm - shift, fwhm_mm)
    field = (np.abs(along) <= size * pixel_mm / 2 - 15) & (np.abs(across) <= size * pixel_mm / 2 - 15)
    image = np.random.default_rng(seed).poisson(peak * image * field + 0.5).astype(np.float64)
    if not horizontal:
        image = image.T
    return Image(image, pixel_spacing=(pixel_mm, pixel_mm), modality="NM", path=Path("slits"))


def spect_volume(slices: int = 30, size: int = 96, voxel_mm: float = 2.0, radius_mm: float = 80.0,
                 gradient: float = 0.0, spheres: tuple[tuple[float, float, float], ...] = (),
                 sphere_slice: int = 8, ring_mm: float = 45.0, sphere_level: float = 0.5,
                 level: float = 1000.0) -> Image:
    """A uniform cylinder (``level`` inside, a linear left-right ``gradient`` as a fraction across the radius)
    with cold spheres at ``sphere_level`` of the background: ``spheres`` = (diameter mm, angle deg, unused),
    their centres on a ring ``ring_mm`` from the axis in slice ``sphere_slice``. Noise-free."""
    zz, rr, cc = np.indices((slices, size, size), dtype=np.float64)
    centre = (size - 1) / 2
    y, x, z = (rr - centre) * voxel_mm, (cc - centre) * voxel_mm, zz * voxel_mm
    volume = level * (1 + gradient * x / radius_mm) * (np.hypot(x, y) <= radius_mm)
    for diameter, angle, _ in spheres:
        cy, cx = ring_mm * math.sin(math.radians(angle)), ring_mm * math.cos(math.radians(angle))
        inside = (x - cx) ** 2 + (y - cy) ** 2 + (z - sphere_slice * voxel_mm) ** 2 <= (diameter / 2) ** 2
        volume[inside] *= sphere_level
    metadata = {"image_type": ["DERIVED", "PRIMARY", "RECON TOMO", "EMISSION"]}
    return Image(volume, pixel_spacing=(voxel_mm, voxel_mm), modality="NM", metadata=metadata,
                 path=Path("spect"), slice_spacing=voxel_mm)


def write_dicom(folder: Path, name: str, image: Image) -> Path:
    """``image`` as an NM DICOM file (a volume as RECON TOMO with its slice spacing)."""
    extra = {}
    if image.slice_spacing:
        extra = {"ImageType": ["DERIVED", "PRIMARY", "RECON TOMO", "EMISSION"],
                 "SpacingBetweenSlices": image.slice_spacing, "SliceThickness": image.slice_spacing}
    return write_nm_dicom(folder / name, np.round(image.array).astype(np.uint16), image.pixel_spacing, extra=extra)
