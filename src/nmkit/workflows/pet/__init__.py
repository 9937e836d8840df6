"""Early-to-delayed 18F-FDG PET translation: pix2pix (paired) vs CycleGAN (unpaired), SUV-aware metrics.

Light on purpose: no torch at import, so that `nmkit --help` starts fast. Models register when `models` is imported;
the training hooks (MONITOR, build_task, build_datamodule) live in `task`.
"""

MAX_PIXEL_MB = 1024.0
"""Largest decoded image this workflow reads, in MB (rows x columns x frames x bytes per sample);
a 512 x 512 x 1000-slice float32 volume is 1000 MB."""
