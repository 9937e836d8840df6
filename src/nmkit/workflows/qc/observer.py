"""A scanning matched-filter observer: the near-ideal reference for finding a cold disc in a Poisson flood.

For every candidate disc (each diameter x each brush profile of :func:`nmkit.phantoms.flood.brush_profile`)
and every position where the disc lies fully inside the field of view (FOV), the observer correlates the
deficit ``expected - observed`` with the disc and divides by its Poisson standard deviation
``sqrt(sum(template^2 * expected))``. This statistic is the prewhitened matched filter for a known disc
at a known place (signal ``alpha * template * expected``, variance ``expected``), in units of sigma; the
image's score is its maximum over positions, diameters and brushes (higher: more likely a cold region).

The expected image is, in order of preference:

- ``expected=<float>``: a known flat level over the FOV (the study's phantoms: 98 counts/px);
- ``expected=<array>``: a known expected image (0 outside the FOV);
- ``expected=None``: estimated from each image itself, ``background="poly"`` (default) a least-squares
  quadratic surface over the FOV (follows gradients; a large defect pulls it slightly toward itself),
  or ``background="mean"`` the FOV mean.

The noise uses the expected value at the disc's centre, exact for a flat level and, for a smooth
expected image, equal to the template-weighted value up to its curvature over the disc.

Without a given expected image, the FOV is found by :func:`detect_fov` (nonzero pixels, holes filled,
partly covered border pixels peeled off).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from nmkit.phantoms.flood import BRUSH_NAMES, PAPER_DIAMETERS, brush_profile

BACKGROUNDS = ("poly", "mean")
_MAX_PLANS = 8  # FOVs whose templates are kept


def _cores() -> int:
    try:
        return max(1, min(len(os.sched_getaffinity(0)), 8))
    except AttributeError:  # not on Linux
        return max(1, min(os.cpu_count() or 1, 8))


def detect_fov(image: np.ndarray, max_peel: int = 3) -> np.ndarray:
    """The detector FOV of a flood (bool, same shape): its largest nonzero region with holes filled, less
    the partly covered border pixels of a real camera (up to ``max_peel`` rings, each peeled while clearly
    darker, below 90 %, than the pixels inside it)."""
    image = np.asarray(image, dtype=np.float64)
    mask = image > 0
    if not mask.all():
        labels, n = ndimage.label(mask)
        if n > 1:
            mask = labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
        mask = ndimage.binary_fill_holes(mask)
    for _ in range(max_peel):
        inner = ndimage.binary_erosion(mask)
        ring = mask & ~inner
        if not inner.any() or not ring.any() or image[ring].mean() >= 0.9 * image[inner].mean():
            break
        mask = inner
    return mask


@dataclass
class _Plan:
    """Everything that depends only on the image shape and FOV (cached per FOV)."""

    fft_shape: tuple[int, int]
    templates: list[tuple[int, int, np.ndarray, float]]  # (diameter, brush, rfft2 of the template, sum t^2)
    valid: dict[int, tuple[tuple[slice, slice], np.ndarray]]  # diameter -> (bounding box, 0 / -inf at (in)valid centres)
    design: np.ndarray  # (n_fov, 6) quadratic surface over the FOV
    design_pinv: np.ndarray  # (6, n_fov)
    flat_mask: np.ndarray  # (H*W,) bool


class MatchedFilterObserver:
    """Scanning matched filter over disc ``diameters`` (px) and ``brushes`` (0-3); see the module docstring.

    ``expected`` is a known flat level (float), a known expected image (array), or None to estimate it with
    ``background`` ("poly" or "mean"). ``batch_size`` images share one pass of FFTs over ``workers`` threads.
    """

    def __init__(self, diameters=PAPER_DIAMETERS, brushes=(0, 1, 2, 3),
                 expected: float | np.ndarray | None = None, background: str = "poly",
                 batch_size: int = 16, workers: int | None = None):
        self.diameters = tuple(sorted({int(d) for d in diameters}))
        self.brushes = tuple(int(b) for b in brushes)
        if not self.diameters or min(self.diameters) < 1:
            raise ValueError(f"diameters must be positive, not {diameters}")
        if not self.brushes or any(b not in range(len(BRUSH_NAMES)) for b in self.brushes):
            raise ValueError(f"brushes must be some of 0-3 ({', '.join(BRUSH_NAMES)}), not {brushes}")
        if background not in BACKGROUNDS:
            raise ValueError(f"background must be one of {', '.join(BACKGROUNDS)}, not {background!r}")
        if expected is not None and not np.isscalar(expected):
            expected = np.asarray(expected, dtype=np.float64)
            if expected.ndim != 2 or not np.isfinite(expected).all() or expected.min() < 0:
                raise ValueError("an expected image must be 2-D, finite and non-negative")
        elif expected is not None and not float(expected) > 0:
            raise ValueError(f"the expected level must be positive, not {expected}")
        self.expected, self.background = expected, background
        self.batch_size = max(1, int(batch_size))
        self.workers = int(workers or _cores())
        self._plans: dict[tuple, _Plan] = {}

    # ----------------------------------------------------------------------------------------- set-up
    def _plan(self, mask: np.ndarray) -> _Plan:
        key = (mask.shape, np.packbits(mask).tobytes())
        if key in self._plans:
            return self._plans[key]
        rows, cols = mask.shape
        fft_shape = (sfft.next_fast_len(rows, real=True), sfft.next_fast_len(cols, real=True))
        edt = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
        valid, templates = {}, []
        for d in self.diameters:
            inside = edt > d / 2  # the whole disc lies in the FOV (so never wraps around the FFT)
            if not inside.any():
                continue
            r, c = np.flatnonzero(inside.any(1)), np.flatnonzero(inside.any(0))
            box = (slice(r[0], r[-1] + 1), slice(c[0], c[-1] + 1))
            valid[d] = (box, np.where(inside[box], 0.0, -np.inf).astype(np.float32))
            for b in self.brushes:
                t = brush_profile(b, d)
                half = t.shape[0] // 2
                padded = np.zeros(fft_shape, dtype=np.float32)
                padded[:t.shape[0], :t.shape[1]] = t
                padded = np.roll(padded, (-half, -half), axis=(0, 1))  # centre at (0, 0): correlation = same-size map
                templates.append((d, b, sfft.rfft2(padded), float((t**2).sum())))
        if not valid:
            raise ValueError(f"no disc of {min(self.diameters)} px fits inside a FOV of {int(mask.sum())} px "
                             f"in a {rows}x{cols} image")
        y, x = np.nonzero(mask)
        y, x = (y - (rows - 1) / 2) / rows, (x - (cols - 1) / 2) / cols
        design = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
        plan = _Plan(fft_shape, templates, valid, design, np.linalg.pinv(design), mask.ravel())
        if len(self._plans) >= _MAX_PLANS:  # floods of many FOVs: keep the memory bounded
            self._plans.pop(next(iter(self._plans)))
        self._plans[key] = plan
        return plan

    def _masks(self, images: np.ndarray) -> list[np.ndarray]:
        if isinstance(self.expected, np.ndarray):
            if self.expected.shape != images.shape[1:]:
                raise ValueError(f"expected image {self.expected.shape} does not match images {images.shape[1:]}")
            return [self.expected > 0] * len(images)
        return [detect_fov(image) for image in images]

    def _expected(self, images: np.ndarray, plan: _Plan) -> tuple[np.ndarray, np.ndarray | None]:
        """(expected counts (B, H, W), 0 outside the FOV; the flat level per image (B,), or None if not flat)."""
        n, rows, cols = images.shape
        if isinstance(self.expected, np.ndarray):
            return np.broadcast_to(self.expected, images.shape), None
        flat = images.reshape(n, -1)[:, plan.flat_mask]
        if self.expected is not None or self.background == "mean":
            level = np.full(n, float(self.expected)) if self.expected is not None else flat.mean(axis=1)
            return level[:, None, None] * plan.flat_mask.reshape(rows, cols), level
        out = np.zeros((n, rows * cols))
        out[:, plan.flat_mask] = (flat @ plan.design_pinv.T) @ plan.design.T
        return out.reshape(images.shape), None

    # ------------------------------------------------------------------------------------ statistics
    def _batches(self, images: np.ndarray):
        """(indices, plan, images, expected, level) for images sharing one FOV, at most batch_size at a time."""
        masks = self._masks(images)
        groups: dict[bytes, list[int]] = {}
        for i, mask in enumerate(masks):
            groups.setdefault(np.packbits(mask).tobytes() + bytes(str(mask.shape), "ascii"), []).append(i)
        for members in groups.values():
            plan = self._plan(masks[members[0]])
            for start in range(0, len(members), self.batch_size):
                idx = np.array(members[start:start + self.batch_size])
                batch = images[idx].astype(np.float64)
                yield (idx, plan, batch, *self._expected(batch, plan))

    def _maps(self, batch: np.ndarray, expected: np.ndarray, level: np.ndarray | None, plan: _Plan):
        """Yield (diameter, brush, statistic in the valid box (B, h, w) with -inf at invalid centres, box)."""
        rows, cols = batch.shape[1:]
        deficit = ((expected - batch) * plan.flat_mask.reshape(rows, cols)).astype(np.float32)
        spectrum = sfft.rfft2(deficit, s=plan.fft_shape, workers=self.workers)
        if level is not None:
            inv_sd = (1.0 / np.sqrt(np.maximum(level, 1e-6))).astype(np.float32)[:, None, None]
        else:
            inv_sd = (1.0 / np.sqrt(np.maximum(expected, 1e-6))).astype(np.float32)
        for d, b, template, energy in plan.templates:
            box, penalty = plan.valid[d]
            corr = sfft.irfft2(spectrum * template, s=plan.fft_shape, workers=self.workers)[:, :rows, :cols]
            stat = corr[(slice(None), *box)]
            stat *= inv_sd if level is not None else inv_sd[(slice(None), *box)]
            stat *= np.float32(1.0 / np.sqrt(energy))
            stat += penalty
            yield d, b, stat, box

    def score(self, images: np.ndarray) -> np.ndarray:
        """The maximum statistic (sigma) of each image (N, H, W) or (H, W): higher = more likely a cold region."""
        images = np.asarray(images)
        images = images[None] if images.ndim == 2 else images
        if images.ndim != 3:
            raise ValueError(f"images must be (N, H, W) or (H, W), not {images.shape}")
        scores = np.full(len(images), -np.inf)
        for idx, plan, batch, expected, level in self._batches(images):
            best = np.full(len(idx), -np.inf)
            for _, _, stat, _ in self._maps(batch, expected, level, plan):
                np.maximum(best, stat.max(axis=(1, 2)), out=best)
            scores[idx] = best
        return scores

    def statistic_maps(self, image: np.ndarray) -> dict[int, np.ndarray]:
        """{diameter: map}: the statistic (sigma) at each centre for each disc diameter, the maximum over
        brushes, NaN where that disc would leave the FOV. Each map has the shape of ``image``."""
        image = np.asarray(image)
        if image.ndim != 2:
            raise ValueError(f"image must be 2-D, not {image.shape}")
        per_diameter: dict[int, np.ndarray] = {}
        for _, plan, batch, expected, level in self._batches(image[None]):
            for d, _, stat, box in self._maps(batch, expected, level, plan):
                full = per_diameter.setdefault(d, np.full(image.shape, -np.inf))
                np.maximum(full[box], stat[0], out=full[box])
        for full in per_diameter.values():
            full[~np.isfinite(full)] = np.nan
        return {d: full.astype(np.float32) for d, full in per_diameter.items()}

    def statistic_map(self, image: np.ndarray) -> tuple[np.ndarray, int]:
        """(map, best diameter): :meth:`statistic_maps` for the best-scoring diameter. Overlay it on the flood."""
        maps = self.statistic_maps(image)
        best = max(maps, key=lambda d: np.nanmax(maps[d]))
        return maps[best], int(best)

__all__ = ["BACKGROUNDS", "MatchedFilterObserver", "detect_fov"]
