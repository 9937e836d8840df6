"""Gamma-camera flood-field uniformity QC: NEMA NU 1 uniformity and a CNN for local cold regions."""

from nmkit.workflows.qc import models  # noqa: F401  (registers qc-resnet18, qc-compact)
from nmkit.workflows.qc.data import DATASET
from nmkit.workflows.qc.task import MONITOR, build_datamodule, build_task

__all__ = ["DATASET", "MONITOR", "build_datamodule", "build_task"]
