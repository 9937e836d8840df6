"""The bonescan training task: the engine's classifier on knee crops, 5 grades, class-weighted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nmkit.datasets import is_own_data, load_dataset
from nmkit.engine.classification import ClassifierTask
from nmkit.phantoms.bone import read_bone_manifest
from nmkit.workflows.bonescan.data import (DATASET, NUM_GRADES, KneeDataModule, class_weights,
                                           spec_class_weights, spec_from_config)
from nmkit.workflows.bonescan.knees import SIDES

MONITOR = ("val_acc", "max")


def config_class_weights(data: dict[str, Any], seed: int = 0) -> list[float] | None:
    """``data.class_weights``: a list as given, "none", or "auto" (default): inverse grade frequency of the
    training scans (from dataset.csv's train rows, the manifest, or the phantom spec's grade mix)."""
    setting = data.get("class_weights", "auto")
    if isinstance(setting, list):
        return [float(w) for w in setting]
    if setting == "none":
        return None
    if setting != "auto":
        raise ValueError(f"data.class_weights must be a list, 'auto' or 'none', not {setting!r}")
    if data.get("root") and is_own_data(data["root"]):
        rows = load_dataset(data, DATASET, seed).rows_in("train")
        return class_weights([row[f"{side}_grade"] for row in rows for side in SIDES
                              if row[f"{side}_grade"] is not None])
    if "root" in data:
        records = read_bone_manifest(Path(data["root"]) / "manifest.csv")
        records = records[:len(records) - int(data.get("test_last", 0))]
        grades = [g for r in records for g in (r["right_grade"], r["left_grade"]) if g >= 0]
        return class_weights(grades)
    return spec_class_weights(spec_from_config(data["phantom"]))


def build_task(config: dict[str, Any]) -> ClassifierTask:
    """The LightningModule for a bonescan config."""
    kwargs = {k: v for k, v in config["model"].items() if k != "name"}
    return ClassifierTask(config["model"]["name"], kwargs, num_classes=NUM_GRADES, optim=config["optim"],
                          max_epochs=int(config["trainer"]["max_epochs"]),
                          class_weights=config_class_weights(config["data"], int(config["seed"])))


def build_datamodule(config: dict[str, Any]) -> KneeDataModule:
    """The knee data module for a bonescan config."""
    return KneeDataModule(config["data"], int(config["seed"]))
