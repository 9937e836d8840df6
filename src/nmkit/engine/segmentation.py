"""A generic semantic-segmentation LightningModule: any registered model, cross-entropy + Dice loss."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from nmkit.engine.classification import build_optimizer
from nmkit.metrics.segmentation import dice
from nmkit.models import create_model


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - mean soft Dice over the foreground classes (1..C-1) of (N, C, H, W) logits and (N, H, W) labels."""
    probs = logits.softmax(dim=1)[:, 1:]
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2)[:, 1:].to(probs.dtype)
    inter = (probs * onehot).sum((2, 3))
    total = probs.sum((2, 3)) + onehot.sum((2, 3))
    return 1 - ((2 * inter + eps) / (total + eps)).mean()


def batch_dice(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image Dice of the foreground (label > 0) of two (N, H, W) label maps; 1 when both are empty."""
    return torch.as_tensor(dice(pred > 0, target > 0), dtype=torch.float32)


class SegmentationTask(L.LightningModule):
    """Train a registered segmentation model (logits (N, C, H, W)); log loss and mean foreground Dice."""

    def __init__(self, model_name: str, model_kwargs: dict[str, Any], num_classes: int, optim: dict[str, Any],
                 max_epochs: int, dice_weight: float = 1.0):
        super().__init__()
        self.save_hyperparameters()
        self.model: nn.Module = create_model(model_name, **model_kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, y) + self.hparams.dice_weight * soft_dice_loss(logits, y)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self._loss(self(x), y)
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", self._loss(logits, y), prog_bar=True, sync_dist=True)
        self.log("val_dice", batch_dice(logits.argmax(1), y).mean(), prog_bar=True, sync_dist=True)

    def configure_optimizers(self):
        return build_optimizer(self.parameters(), self.hparams.optim, self.hparams.max_epochs)
