"""Early-to-delayed 18F-FDG PET translation: pix2pix (paired) vs CycleGAN (unpaired), SUV-aware metrics.

Light on purpose: no torch at import, so that `nmkit --help` starts fast. Models register when `models` is imported;
the training hooks (MONITOR, build_task, build_datamodule) live in `task`.
"""
