"""Neonatal respiratory distress syndrome on chest X-ray: lung segmentation, then RDS classification.

Light on purpose: no torch at import, so that `nmkit --help` starts fast. Models register when `models` is imported;
the training hooks (MONITOR, build_task, build_datamodule) live in `task`.
"""
