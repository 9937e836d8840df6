"""The classical phase + threshold LV ROI finds the LV, not the RV or the counter-phase atrium."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from nmkit.metrics.segmentation import dice
from nmkit.workflows.gbp.baseline import lv_seed, threshold_rois

from .conftest import disc


def _heart(n_frames: int = 16, size: int = 64):
    """LV (image right) and RV (image left) contract in phase; an atrium above fills in counter-phase."""
    phase = np.cos(2 * np.pi * np.arange(n_frames) / n_frames)
    frames, lv = [], []
    for p in phase:
        lv_mask = disc((size, size), (38, 42), 7 + 2 * p)
        frames.append(5 + 100 * lv_mask + 60 * disc((size, size), (38, 20), 7 + 2 * p)
                      + 50 * disc((size, size), (16, 34), 5 - 1.5 * p))
        lv.append(lv_mask)
    return np.stack(frames).astype(np.float32), np.stack(lv)


def test_phase_seed_picks_the_right_hand_ventricle():
    frames, lv = _heart()
    seed = lv_seed(frames)
    centre = np.array(ndimage.center_of_mass(seed))
    assert np.hypot(*(centre - (38, 42))) < 2
    assert not (seed & disc(seed.shape, (38, 20), 9)).any()


def test_threshold_rois_follow_the_lv_through_the_cycle():
    frames, lv = _heart()
    rois = threshold_rois(frames)
    assert rois.shape == frames.shape
    assert dice(rois[0], lv[0])[0] > 0.85 and dice(rois[8], lv[8])[0] > 0.8
