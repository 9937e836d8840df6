"""ECG-gated blood pool (MUGA): LV segmentation on every frame, ED/ES, background ROI, LV ejection fraction.

Light on purpose: no torch at import, so that `nmkit --help` starts fast. Models register when `models` is imported;
the training hooks (MONITOR, build_task, build_datamodule) live in `task`.
"""

MAX_PIXEL_MB = 64.0
"""Largest decoded image this workflow reads, in MB (rows x columns x frames x bytes per sample);
gated studies: 128 x 128 x 64 frames x 16-bit is 2 MB."""
