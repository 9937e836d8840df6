"""Knee degenerative joint disease grade (5 grades) on whole-body Tc-99m bone scans."""

from nmkit.workflows.bonescan import models  # noqa: F401  (registers bonescan-simplecnn-1/2/3, -compact, -resnet18)
from nmkit.workflows.bonescan.data import DATASET
from nmkit.workflows.bonescan.task import MONITOR, build_datamodule, build_task

__all__ = ["DATASET", "MONITOR", "build_datamodule", "build_task"]
