"""Neonatal respiratory distress syndrome on chest X-ray: lung segmentation, then RDS classification."""

from nmkit.workflows.rds import models  # noqa: F401  (registers the rds-* models)
from nmkit.workflows.rds.data import dataset_spec
from nmkit.workflows.rds.task import MONITOR, build_datamodule, build_task

__all__ = ["MONITOR", "build_datamodule", "build_task", "dataset_spec"]
