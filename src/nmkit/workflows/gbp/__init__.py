"""ECG-gated blood pool (MUGA): LV segmentation on every frame, ED/ES, background ROI, LV ejection fraction.

Light on purpose: no torch at import, so that `nmkit --help` starts fast. Models register when `models` is imported;
the training hooks (MONITOR, build_task, build_datamodule) live in `task`.
"""
