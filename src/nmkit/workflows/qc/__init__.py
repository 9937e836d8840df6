"""Gamma-camera flood-field uniformity QC: NEMA NU 1 uniformity and a CNN for local cold regions.

Light on purpose: no torch at import, so that `nmkit --help` starts fast. Models register when `models` is imported;
the training hooks (MONITOR, build_task, build_datamodule) live in `task`.
"""

MAX_PIXEL_MB = 64.0
"""Largest decoded image this workflow reads, in MB (rows x columns x frames x bytes per sample);
floods: 2048 x 2048 x 16-bit is 8 MB."""
