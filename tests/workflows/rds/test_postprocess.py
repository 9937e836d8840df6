"""Post-processing: the median filter scales with the image; rotation TTA runs only below the scaled threshold."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nmkit.workflows.rds.postprocess import (PostProcess, lung_probability, median_filter_mask, median_size,
                                             segment_lungs)


class LeftQuarterModel(nn.Module):
    """Calls lung every bright pixel in the left quarter of what it is shown (so rotation changes its answer)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lung = (x > 0.5).float()
        lung[..., x.shape[-1] // 4:] = 0
        return torch.cat([1 - lung, lung], dim=1) * 10


def test_median_size_scales_with_the_image():
    assert median_size((64, 64)) == 3 and median_size((512, 512)) == 5 and median_size((2000, 2400)) == 21


def test_median_filter_removes_specks_and_fills_pinholes():
    mask = np.zeros((40, 40), dtype=bool)
    mask[10:30, 10:30] = True
    mask[15, 15] = False
    mask[2, 2] = True
    clean = median_filter_mask(mask)
    assert clean[15, 15] and not clean[2, 2]


def test_tta_runs_below_the_threshold_and_averages_three_rotations():
    image = np.ones((32, 32), dtype=np.float32)
    model = LeftQuarterModel()
    plain, info = segment_lungs(model, image, PostProcess(median=False, tta=True, area_fraction=0.2))
    assert not info["rotation_tta"] and plain.sum() == 32 * 8  # a quarter of the image is over 0.2: no TTA
    mask, info = segment_lungs(model, image, PostProcess(median=False, tta=True, area_fraction=0.3))
    probs = sum(lung_probability(model, image, k) for k in (0, 1, -1)) / 3
    assert info["rotation_tta"] and np.array_equal(mask, probs >= 0.5)
    assert mask.sum() == 2 * 8 * 8  # left quarter, top and bottom quarters: two of three rotations agree
    _, info = segment_lungs(model, image, PostProcess(median=False, tta=False, area_fraction=0.3))
    assert not info["rotation_tta"] and info["area_threshold_px"] == 0.3 * 32 * 32


def test_drop_islands_keeps_both_lungs_and_drops_specks():
    from nmkit.workflows.rds.postprocess import drop_islands

    mask = np.zeros((40, 40), dtype=bool)
    mask[5:35, 3:15] = True  # right lung
    mask[8:30, 24:36] = True  # left lung, a bit smaller
    mask[1:3, 37:39] = True  # a speck on a marker
    kept = drop_islands(mask)
    assert kept[5:35, 3:15].all() and kept[8:30, 24:36].all() and not kept[1:3, 37:39].any()


def test_holes_inside_a_lung_are_filled_and_the_gap_between_lungs_stays_background():
    image = np.zeros((40, 80), dtype=np.float32)
    image[5:35, 2:9] = image[5:35, 11:19] = 1.0  # two lungs in the left quarter, the gap between them open
    image[18:22, 4:8] = 0.0  # a dense vessel inside the first lung
    model = LeftQuarterModel()
    plain, info = segment_lungs(model, image, PostProcess(median=False, tta=False, holes=False))
    assert not plain[20, 6] and not info["holes_filled"]
    filled, info = segment_lungs(model, image, PostProcess(median=False, tta=False))
    assert filled[20, 6] and not filled[20, 10] and info["holes_filled"]
    assert filled.sum() == plain.sum() + 16
