"""The generic segmentation task's loss and Dice."""

from __future__ import annotations

import torch

from nmkit.engine.segmentation import batch_dice, soft_dice_loss


def test_soft_dice_loss_is_zero_for_a_confident_perfect_prediction_and_high_when_wrong():
    target = torch.zeros(2, 8, 8, dtype=torch.long)
    target[:, 2:6, 2:6] = 1
    perfect = torch.stack([(target == 0).float(), (target == 1).float()], dim=1) * 50
    assert soft_dice_loss(perfect, target) < 1e-3
    assert soft_dice_loss(-perfect, target) > 0.9


def test_batch_dice_per_image():
    target = torch.zeros(3, 4, 4, dtype=torch.long)
    target[:, :2] = 1  # 8 pixels each
    pred = target.clone()
    pred[1] = 0
    pred[2, :1] = 0  # 4 of 8
    assert torch.allclose(batch_dice(pred, target), torch.tensor([1.0, 0.0, 2 * 4 / 12]))
    assert batch_dice(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2)).item() == 1.0
