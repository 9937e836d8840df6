"""What a gbp config takes beyond the shared sections (see :mod:`nmkit.engine.schema`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from nmkit.engine.schema import DataSection, ExperimentConfig, phantom_keys
from nmkit.phantoms.gated import GatedSpec


class GbpData(DataSection):
    labels: Literal["truth", "consensus"] = "truth"
    size: int = Field(64, ge=16)
    """Own data: frames are resampled to size x size (the camera's native 64 x 64 by default)."""
    _phantom = phantom_keys(GatedSpec, "n")


class Config(ExperimentConfig):
    data: GbpData = GbpData()
