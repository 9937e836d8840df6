"""A classical, non-learned LV auto-ROI: first-harmonic (phase) analysis to find the LV, then a threshold.

1. The first Fourier harmonic of each pixel's time-activity curve: ventricles empty while the atria fill, so
   ventricular pixels have a positive in-phase component (counts highest at frame 0, the R wave) and atrial
   and great-vessel pixels a negative one.
2. Ventricles = in-phase component above ``phase_fraction`` of its maximum; the LV is the ventricular
   region whose centroid lies furthest to the image right (patient's left in the LAO view).
3. Each frame's LV ROI = the connected region, around the LV seed, of pixels above ``threshold`` of the
   highest count within the seed neighbourhood (the count-threshold edge clinical software uses).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from nmkit.workflows.gbp.analyse import largest_component


def lv_seed(frames: np.ndarray, phase_fraction: float = 0.3, smooth_px: float = 1.5) -> np.ndarray:
    """The LV region of the first-harmonic in-phase image, (H, W) bool."""
    n = len(frames)
    smoothed = ndimage.gaussian_filter(frames.astype(np.float64), (0, smooth_px, smooth_px))
    in_phase = np.tensordot(np.cos(2 * np.pi * np.arange(n) / n), smoothed, axes=1)
    labels, count = ndimage.label(in_phase > phase_fraction * in_phase.max())
    if count == 0:
        return np.zeros(frames.shape[1:], dtype=bool)
    index = np.arange(1, count + 1)
    sizes = ndimage.sum_labels(np.ones_like(labels), labels, index)
    centres = ndimage.center_of_mass(np.ones_like(labels), labels, index)
    big = [i for i, size in zip(index, sizes) if size >= 0.2 * sizes.max()]
    return labels == max(big, key=lambda i: centres[i - 1][1])


def threshold_rois(frames: np.ndarray, threshold: float = 0.5, phase_fraction: float = 0.3) -> np.ndarray:
    """LV ROIs (F, H, W) bool for every frame of a gated study, with no learned model."""
    seed = lv_seed(frames, phase_fraction)
    if not seed.any():
        return np.zeros(frames.shape, dtype=bool)
    scale = max(frames.shape[1:]) / 64  # pixels of the 64x64 acquisition matrix
    window = ndimage.binary_dilation(seed, iterations=max(1, int(round(3 * scale))))
    centre = tuple(int(round(c)) for c in ndimage.center_of_mass(seed))
    rois = []
    for frame in ndimage.gaussian_filter(frames.astype(np.float64), (0, scale, scale)):
        candidate = window & (frame >= threshold * frame[window].max())
        labels, _ = ndimage.label(candidate)
        keep = labels == labels[centre] if labels[centre] else largest_component(candidate)
        rois.append(ndimage.binary_fill_holes(keep))
    return np.stack(rois)
