"""What an rds config takes beyond the shared sections (see :mod:`nmkit.engine.schema`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from nmkit.engine.schema import DataSection, ExperimentConfig, Section, phantom_keys
from nmkit.phantoms.chest import ChestSpec


class RdsData(DataSection):
    input: Literal["lungs", "whole"] = "lungs"
    lung_margin: int = Field(0, ge=0)
    size: int = Field(128, ge=16)
    _phantom = phantom_keys(ChestSpec, "n")


class InitBundles(Section):
    segmenter: str | None = None
    classifier: str | None = None


class Config(ExperimentConfig):
    task: Literal["segmentation", "classification", "joint"] = "segmentation"
    data: RdsData = RdsData()
    init_bundles: InitBundles | None = None
    init_weights: str | None = None
