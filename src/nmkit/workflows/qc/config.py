"""What a qc config takes beyond the shared sections (see :mod:`nmkit.engine.schema`)."""

from __future__ import annotations

from pydantic import Field

from nmkit.engine.schema import DataSection, ExperimentConfig, phantom_keys
from nmkit.phantoms.flood import FloodSpec


class QcData(DataSection):
    val_fraction: float = Field(0.3, ge=0, lt=1)
    size: int = Field(256, ge=32)
    """Own data: every flood is resampled (counts summed or spread) to size x size."""
    _phantom = phantom_keys(FloodSpec, "n", "paper")


class Config(ExperimentConfig):
    data: QcData = QcData()
