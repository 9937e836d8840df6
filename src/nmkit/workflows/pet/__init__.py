"""Early-to-delayed 18F-FDG PET translation: pix2pix (paired) vs CycleGAN (unpaired), SUV-aware metrics."""

from nmkit.workflows.pet import models  # noqa: F401  (registers pet-unet-generator, pet-patchgan)
from nmkit.workflows.pet.data import DATASET
from nmkit.workflows.pet.task import MONITOR, build_datamodule, build_task

__all__ = ["DATASET", "MONITOR", "build_datamodule", "build_task"]
