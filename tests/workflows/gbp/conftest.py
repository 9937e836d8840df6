"""Fixtures for gbp tests: a tiny untrained LV model and an exact synthetic gated study of discs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nmkit.models import create_model, save_bundle

TINY_UNET = {"depth": 3, "work_size": 32, "decoder_width": 8}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """An untrained 3-level U-Net: fast, deterministic, enough to exercise every code path."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    return save_bundle(path, "gbp-unet-small", TINY_UNET, create_model("gbp-unet-small", **TINY_UNET).eval())


def disc(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    rows, cols = np.indices(shape)
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius ** 2


def disc_study(n_frames: int = 12, size: int = 64, background: float = 10.0, density: float = 100.0,
               radii: tuple[float, float] = (12.0, 8.0)) -> tuple[np.ndarray, np.ndarray]:
    """(frames, LV masks): a uniform background plus an LV disc whose radius follows a cosine over the cycle,
    largest (ED) at frame 0 and smallest (ES) at mid-cycle; LV pixels hold ``background + density``."""
    phase = np.cos(2 * np.pi * np.arange(n_frames) / n_frames)
    radius = radii[1] + (radii[0] - radii[1]) * (phase + 1) / 2
    masks = np.stack([disc((size, size), (size / 2, size / 2), r) for r in radius])
    return (background + density * masks).astype(np.float32), masks


def blurred_pool_study(n_frames: int = 12, size: int = 64, pixel_mm: float = 4.0, fwhm_mm: float = 12.0,
                       background: float = 10.0, radii: tuple[float, float] = (12.0, 7.0)):
    """(frames, LV masks, true EF %): blood-pool discs whose projected thickness grows as the square root of the
    depth from the edge (as :func:`recovery_fraction` models a chamber), blurred by a Gaussian camera of
    ``fwhm_mm``, over a flat background; the true EF is from the pools' own counts."""
    from scipy import ndimage

    phase = np.cos(2 * np.pi * np.arange(n_frames) / n_frames)
    radius = radii[1] + (radii[0] - radii[1]) * (phase + 1) / 2
    masks = np.stack([disc((size, size), (size / 2 - 4, size / 2 - 4), r) for r in radius])
    pools = np.stack([40.0 * np.sqrt(ndimage.distance_transform_edt(m)) for m in masks])
    sigma = fwhm_mm / 2.3548 / pixel_mm
    frames = background + ndimage.gaussian_filter(pools, (0, sigma, sigma), mode="constant")
    counts = pools.sum(axis=(1, 2))
    return frames.astype(np.float32), masks, float((counts.max() - counts.min()) / counts.max() * 100)
