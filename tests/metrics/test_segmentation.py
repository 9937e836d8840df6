from __future__ import annotations

import numpy as np
import pytest
import torch

from nmkit.metrics.segmentation import dice, iou, mean_iou, pixel_accuracy, summary

# image 0: pred 3 pixels, target 2 pixels, 1 shared; image 1: both empty; image 2: disjoint single pixels
PRED = np.zeros((3, 2, 3), bool)
TARGET = np.zeros((3, 2, 3), bool)
PRED[0, 0, :3] = True
TARGET[0, 0, 2] = TARGET[0, 1, 2] = True
PRED[2, 0, 0] = TARGET[2, 1, 1] = True


def test_binary_metrics_per_image():
    np.testing.assert_allclose(dice(PRED, TARGET), [2 * 1 / (3 + 2), 1.0, 0.0])
    np.testing.assert_allclose(iou(PRED, TARGET), [1 / 4, 1.0, 0.0])
    np.testing.assert_allclose(pixel_accuracy(PRED, TARGET), [3 / 6, 1.0, 4 / 6])


def test_single_image_torch_and_zero_one_inputs():
    assert dice(torch.as_tensor(PRED[0]), torch.as_tensor(TARGET[0].astype(np.uint8))).tolist() == [0.4]
    assert iou(PRED[0].astype(float), TARGET[0]).shape == (1,)


def test_bad_inputs():
    with pytest.raises(ValueError, match="same|got"):
        dice(PRED, TARGET[:2])
    with pytest.raises(ValueError, match="binary mask"):
        iou(PRED.astype(float) * 0.7, TARGET)


def test_mean_iou_includes_background_and_skips_absent_classes():
    pred = np.array([[[0, 0], [1, 1]], [[0, 0], [0, 0]]])
    target = np.array([[[0, 1], [1, 1]], [[0, 0], [0, 0]]])
    # image 0: background IoU 1/2, class 1 IoU 2/3; image 1: only background, IoU 1; class 2 absent everywhere
    np.testing.assert_allclose(mean_iou(pred, target, num_classes=3), [(1 / 2 + 2 / 3) / 2, 1.0], rtol=1e-6)
    np.testing.assert_allclose(mean_iou(torch.as_tensor(pred[0]), target[0], 2), [(1 / 2 + 2 / 3) / 2], rtol=1e-6)
    with pytest.raises(ValueError, match="0..1"):
        mean_iou(pred, target + 1, num_classes=2)


def test_summary_sample_sd():
    assert summary([1.0, 2.0, 3.0, 4.0]) == {"mean": 2.5, "sd": pytest.approx(np.sqrt(5 / 3))}
    assert summary([0.9]) == {"mean": 0.9, "sd": 0.0}
    with pytest.raises(ValueError):
        summary([])
