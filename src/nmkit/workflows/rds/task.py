"""The rds training tasks: the config's ``task`` chooses lung segmentation (the engine's generic segmentation
task, cross-entropy + soft Dice), RDS classification (the engine's generic classifier), or ``joint``: the
study's fine-tuning of segmenter and classifier together (model ``rds-joint``, started from the two trained
bundles named in ``init_bundles``, trained on the RDS label with the whole image as input). For the other two,
``init_weights`` (a local file) loads pretrained weights into the model first; nothing is downloaded."""

from __future__ import annotations

from typing import Any

import lightning as L
from torch import nn

from nmkit.engine.classification import ClassifierTask
from nmkit.engine.segmentation import SegmentationTask
from nmkit.errors import InputError
from nmkit.models import init_from, load_bundle
from nmkit.workflows.rds.data import RdsDataModule, dataset_spec  # noqa: F401  (the engine's own-data hook)

MONITOR = ("val_loss", "min")
TASKS = ("segmentation", "classification", "joint")


def _task_name(config: dict[str, Any]) -> str:
    name = config.get("task", "segmentation")
    if name not in TASKS:
        raise InputError(config.get("source"), f"task must be one of {', '.join(TASKS)}, not {name!r}")
    return name


def build_task(config: dict[str, Any]) -> L.LightningModule:
    """The LightningModule for an rds config."""
    kwargs = {k: v for k, v in config["model"].items() if k != "name"}
    common = {"num_classes": 2, "optim": config["optim"], "max_epochs": int(config["trainer"]["max_epochs"])}
    if _task_name(config) == "segmentation":
        task = SegmentationTask(config["model"]["name"], kwargs, **common)
    else:
        task = ClassifierTask(config["model"]["name"], kwargs, **common)
    if _task_name(config) == "joint":
        for part in ("segmenter", "classifier"):
            path = (config.get("init_bundles") or {}).get(part)
            if not path:
                raise InputError(config.get("source"), f"a joint task needs init_bundles: {part}: PATH (a trained "
                                                       f"{part} bundle)")
            getattr(task.model, part).load_state_dict(load_bundle(path)[0].state_dict())
    elif config.get("init_weights"):
        load_pretrained(task.model.net, config["init_weights"])
    return task


def load_pretrained(net: nn.Module, path: str) -> int:
    """Copy every tensor of a local weights file (or a bundle, or a shipped model's name) whose name, wrappers'
    prefixes aside, and shape fit ``net`` (e.g. ImageNet weights, whose 1000-class head is skipped); InputError
    when none fits. Returns how many tensors were loaded."""
    return init_from(net, path)[0]


def build_datamodule(config: dict[str, Any]) -> RdsDataModule:
    """The data module for an rds config."""
    return RdsDataModule(_task_name(config), config["data"], int(config["seed"]))
