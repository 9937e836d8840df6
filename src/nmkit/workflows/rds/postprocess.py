"""The study's post-processing of a predicted lung mask, each step switchable: a median filter on the mask,
and rotation test-time augmentation (predict again on the image turned +90 and -90 degrees and average)
when the predicted lung area is under a threshold; then nmkit's own last steps: dropping islands (connected
regions smaller than :data:`ISLAND_FRACTION` of the largest: specks on a marker or a collimator edge; two lungs,
or a lung cut in two by the heart, stay) and filling holes (a lung has none: dense hilar vessels or a nodule
inside it are lung; the gap between the lungs is open to the outside and stays background).

The study's threshold was 30,000 px where its lungs averaged ~100,000 px: 0.3 of the mean lung area. Here
it is a fraction of the image's pixels, :data:`AREA_THRESHOLD_FRACTION`, so it scales with image size: the
phantom's lungs cover ~15 % of the image, and 0.3 of that is 4.5 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from torch import nn

AREA_THRESHOLD_FRACTION = 0.045
ISLAND_FRACTION = 0.1
MEDIAN_FRACTION = 0.01
"""Median filter width as a fraction of the image's shorter side (5 px at 512), at least 3 px, odd."""


@dataclass(frozen=True)
class PostProcess:
    """Which steps to run: ``median`` filter, rotation ``tta`` below ``area_fraction`` of the image, dropping
    ``islands``, filling ``holes``."""

    median: bool = True
    tta: bool = True
    area_fraction: float = AREA_THRESHOLD_FRACTION
    islands: bool = True
    holes: bool = True


def median_size(shape: tuple[int, int]) -> int:
    """The median filter width for an image of ``shape``: odd, at least 3."""
    size = max(3, int(round(MEDIAN_FRACTION * min(shape))))
    return size if size % 2 else size + 1


def median_filter_mask(mask: np.ndarray) -> np.ndarray:
    """A binary mask smoothed by a median filter scaled to its size (removes specks, fills pinholes)."""
    return ndimage.median_filter(np.asarray(mask, dtype=np.uint8), size=median_size(mask.shape)).astype(bool)


def drop_islands(mask: np.ndarray, fraction: float = ISLAND_FRACTION) -> np.ndarray:
    """The mask without its 8-connected regions smaller than ``fraction`` of its largest."""
    regions, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count < 2:
        return np.asarray(mask, dtype=bool)
    sizes = np.bincount(regions.ravel())[1:]
    keep = np.flatnonzero(sizes >= fraction * sizes.max()) + 1
    return np.isin(regions, keep)


@torch.no_grad()
def lung_probability(model: nn.Module, image: np.ndarray, rotation: int = 0) -> np.ndarray:
    """P(lung) per pixel of an (H, W) grey image in 0..1, predicted on the image turned by ``rotation`` x 90
    degrees counter-clockwise and turned back."""
    turned = np.ascontiguousarray(np.rot90(image, rotation))
    x = torch.from_numpy(turned.astype(np.float32))[None, None]
    probs = model(x).softmax(dim=1)[0, 1].numpy()
    return np.ascontiguousarray(np.rot90(probs, -rotation))


def segment_lungs(model: nn.Module, image: np.ndarray, post: PostProcess = PostProcess()) -> tuple[np.ndarray, dict]:
    """The lung mask (H, W) bool of a grey image in 0..1, post-processed as ``post`` says, and what was done."""
    model.eval()
    probs = lung_probability(model, image)
    area = int((probs >= 0.5).sum())
    threshold = post.area_fraction * image.size
    rotated = bool(post.tta and area < threshold)
    if rotated:
        probs = (probs + lung_probability(model, image, 1) + lung_probability(model, image, -1)) / 3
    mask = probs >= 0.5
    if post.median:
        mask = median_filter_mask(mask)
    if post.islands:
        mask = drop_islands(mask)
    if post.holes:
        mask = ndimage.binary_fill_holes(mask)
    return mask, {"raw_area_px": area, "area_threshold_px": float(threshold), "rotation_tta": rotated,
                  "median_filter": post.median, "islands_dropped": post.islands, "holes_filled": post.holes}
