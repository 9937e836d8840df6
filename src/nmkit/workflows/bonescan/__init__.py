"""Knee degenerative joint disease grade (5 grades) on whole-body Tc-99m bone scans.

Light on purpose: no torch at import, so that `nmkit --help` starts fast. Models register when `models` is imported;
the training hooks (MONITOR, build_task, build_datamodule) live in `task`.
"""

MAX_PIXEL_MB = 64.0
"""Largest decoded image this workflow reads, in MB (rows x columns x frames x bytes per sample);
whole-body scans: 1024 x 512 x 2 views x 16-bit is 2 MB."""
