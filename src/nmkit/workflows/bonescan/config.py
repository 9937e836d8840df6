"""What a bonescan config takes beyond the shared sections (see :mod:`nmkit.engine.schema`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from nmkit.engine.schema import DataSection, ExperimentConfig, phantom_keys
from nmkit.phantoms.bone import BoneSpec


class BonescanData(DataSection):
    class_weights: list[float] | Literal["auto", "none"] = "auto"
    test_last: int = Field(0, ge=0)
    pixel_mm: float = Field(2.26, gt=0)
    """Own data: scans are resampled to this pixel size (the study's) before the knees are found and cropped."""
    _phantom = phantom_keys(BoneSpec, "n")


class Config(ExperimentConfig):
    data: BonescanData = BonescanData()
