"""What a pet config takes beyond the shared sections (see :mod:`nmkit.engine.schema`): its ``gan`` section and
Adam's beta1 and linear decay."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from nmkit.engine.schema import DataSection, ExperimentConfig, OptimSection, Section, phantom_keys
from nmkit.phantoms.fdg import FDGSpec


class PetData(DataSection):
    size: int = Field(128, ge=16)
    """Own data: both scans go onto the early scan's extent at size x size in-plane."""
    _phantom = phantom_keys(FDGSpec, "n")


class PetOptim(OptimSection):
    beta1: float = Field(0.5, ge=0, lt=1)
    decay_epochs: int = Field(0, ge=0)


class Discriminator(Section):
    base: int = Field(64, ge=1)
    layers: int = Field(3, ge=1)


class GanSection(Section):
    method: Literal["pix2pix", "cyclegan"] = "pix2pix"
    lambda_l1: float = Field(100.0, ge=0)
    lambda_cycle: float = Field(10.0, ge=0)
    lambda_identity: float = Field(0.5, ge=0)
    pool_size: int = Field(50, ge=0)
    focal_weight: float = Field(0.0, ge=0)
    lesion_weight: float = Field(0.0, ge=0)
    discriminator: Discriminator = Discriminator()


class Config(ExperimentConfig):
    data: PetData = PetData()
    optim: PetOptim = PetOptim()
    gan: GanSection = GanSection()
