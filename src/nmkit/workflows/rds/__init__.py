"""Neonatal respiratory distress syndrome on chest X-ray: lung segmentation, then RDS classification.

Light on purpose: no torch at import, so that `nmkit --help` starts fast. Models register when `models` is imported;
the training hooks (MONITOR, build_task, build_datamodule) live in `task`.
"""

MAX_PIXEL_MB = 128.0
"""Largest decoded image this workflow reads, in MB (rows x columns x frames x bytes per sample);
radiographs: 4320 x 4320 RGB is 56 MB."""
