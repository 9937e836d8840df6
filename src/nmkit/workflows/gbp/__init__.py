"""ECG-gated blood pool (MUGA): LV segmentation on every frame, ED/ES, background ROI, LV ejection fraction."""

from nmkit.workflows.gbp import models  # noqa: F401  (registers gbp-deeplabv3-r50, gbp-unet-small)
from nmkit.workflows.gbp.data import DATASET
from nmkit.workflows.gbp.task import MONITOR, build_datamodule, build_task

__all__ = ["DATASET", "MONITOR", "build_datamodule", "build_task"]
