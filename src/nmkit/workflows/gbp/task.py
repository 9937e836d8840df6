"""The gbp training task: the engine's generic segmentation task on gated frames (background vs LV)."""

from __future__ import annotations

from typing import Any

from nmkit.engine.segmentation import SegmentationTask
from nmkit.workflows.gbp.data import DATASET, GatedDataModule  # noqa: F401  (DATASET: read by the engine)

MONITOR = ("val_dice", "max")


def build_task(config: dict[str, Any]) -> SegmentationTask:
    """The LightningModule for a gbp config."""
    kwargs = {k: v for k, v in config["model"].items() if k != "name"}
    return SegmentationTask(config["model"]["name"], kwargs, num_classes=2, optim=config["optim"],
                            max_epochs=int(config["trainer"]["max_epochs"]))


def build_datamodule(config: dict[str, Any]) -> GatedDataModule:
    """The gated-frame data module for a gbp config."""
    return GatedDataModule(config["data"], int(config["seed"]))
