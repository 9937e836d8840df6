"""A generic image-classification LightningModule: any registered model, cross-entropy, AUC/accuracy."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torchmetrics
from torch import nn

from nmkit.models import create_model


def build_optimizer(params, optim: dict[str, Any], max_epochs: int):
    """Optimizer and (optional) LR scheduler from the config's ``optim`` section."""
    name = optim["name"].lower()
    lr, wd = float(optim["lr"]), float(optim.get("weight_decay", 0.0))
    if name == "sgd":
        opt = torch.optim.SGD(params, lr=lr, weight_decay=wd, momentum=float(optim.get("momentum", 0.0)))
    elif name == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=wd)
    elif name == "adamw":
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    elif name == "adagrad":
        opt = torch.optim.Adagrad(params, lr=lr, weight_decay=wd)
    else:
        raise ValueError(f"unknown optimizer {optim['name']!r} (sgd, adam, adamw, adagrad)")
    scheduler = optim.get("scheduler", "none")
    if scheduler == "cosine":
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max_epochs)}
    if scheduler == "step":
        step = torch.optim.lr_scheduler.StepLR(opt, step_size=int(optim["step_size"]), gamma=float(optim.get("gamma", 0.1)))
        return {"optimizer": opt, "lr_scheduler": step}
    if scheduler != "none":
        raise ValueError(f"unknown scheduler {scheduler!r} (none, cosine, step)")
    return opt


class ClassifierTask(L.LightningModule):
    """Train a registered classifier with cross-entropy; log loss, accuracy and AUC per epoch."""

    def __init__(self, model_name: str, model_kwargs: dict[str, Any], num_classes: int, optim: dict[str, Any],
                 max_epochs: int, class_weights: list[float] | None = None):
        super().__init__()
        self.save_hyperparameters()
        self.model: nn.Module = create_model(model_name, **model_kwargs)
        weight = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.loss = nn.CrossEntropyLoss(weight=weight)
        task = "binary" if num_classes == 2 else "multiclass"
        self.val_acc = torchmetrics.Accuracy(task=task, num_classes=num_classes)
        self.val_auc = torchmetrics.AUROC(task=task, num_classes=num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _scores(self, logits: torch.Tensor) -> torch.Tensor:
        probs = logits.softmax(dim=1)
        return probs[:, 1] if self.hparams.num_classes == 2 else probs

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", self.loss(logits, y), prog_bar=True, sync_dist=True)
        scores = self._scores(logits)
        self.val_acc.update(scores, y)
        self.val_auc.update(scores, y)
        self.log("val_acc", self.val_acc, prog_bar=True, on_epoch=True)
        self.log("val_auc", self.val_auc, prog_bar=True, on_epoch=True)

    def configure_optimizers(self):
        return build_optimizer(self.parameters(), self.hparams.optim, self.hparams.max_epochs)
