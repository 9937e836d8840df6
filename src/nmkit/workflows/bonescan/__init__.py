"""Knee degenerative joint disease grade (5 grades) on whole-body Tc-99m bone scans.

Light on purpose: no torch at import, so that `nmkit --help` starts fast. Models register when `models` is imported;
the training hooks (MONITOR, build_task, build_datamodule) live in `task`.
"""
