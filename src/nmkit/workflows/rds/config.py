"""What an rds config takes beyond the shared sections (see :mod:`nmkit.engine.schema`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from nmkit.engine.schema import DataSection, ExperimentConfig, Section, phantom_keys
from nmkit.phantoms.chest import ChestSpec


class RdsData(DataSection):
    input: Literal["lungs", "whole"] = "lungs"
    lung_margin: int = Field(0, ge=0)
    size: int = Field(128, ge=16)
    label_column: str = "rds"  # the binary finding an own-data folder is trained on (e.g. pneumonia)
    augment: bool | Literal["radiograph"] = True  # radiograph: intensity, gamma, contrast, blur and affine per batch
    phantom: dict[str, Any] | list[dict[str, Any]] | None = None  # a list mixes phantom styles (rds-seg-real.yaml)
    _phantom = phantom_keys(ChestSpec, "n", "seed")


class InitBundles(Section):
    segmenter: str | None = None
    classifier: str | None = None


class Config(ExperimentConfig):
    task: Literal["segmentation", "classification", "joint"] = "segmentation"
    data: RdsData = RdsData()
    init_bundles: InitBundles | None = None
    init_weights: str | None = None
