"""The QC training task: the engine's generic classifier on floods (normal vs defect)."""

from __future__ import annotations

from typing import Any

from nmkit.engine.classification import ClassifierTask
from nmkit.workflows.qc.data import DATASET, FloodDataModule  # noqa: F401  (DATASET: read by the engine)

MONITOR = ("val_auc", "max")


def build_task(config: dict[str, Any]) -> ClassifierTask:
    """The LightningModule for a qc config."""
    kwargs = {k: v for k, v in config["model"].items() if k != "name"}
    return ClassifierTask(config["model"]["name"], kwargs, num_classes=2, optim=config["optim"],
                          max_epochs=int(config["trainer"]["max_epochs"]))


def build_datamodule(config: dict[str, Any]) -> FloodDataModule:
    """The flood data module for a qc config."""
    return FloodDataModule(config["data"], int(config["seed"]))
