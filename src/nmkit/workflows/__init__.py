"""The workflows, one package per key. Nothing heavy is imported here: each workflow loads when it is asked for."""

from __future__ import annotations

import importlib
from types import ModuleType

KEYS = ("qc", "gbp", "pet", "bonescan", "rds")


def get_workflow(key: str) -> ModuleType:
    """The training hooks of workflow ``key`` (its ``task`` module: MONITOR, build_task, build_datamodule)."""
    if key not in KEYS:
        raise KeyError(f"unknown workflow {key!r}; known: {', '.join(sorted(KEYS))}")
    return importlib.import_module(f"nmkit.workflows.{key}.task")


def register_all_models() -> None:
    """Import every workflow's ``models`` module, which registers its named models."""
    for key in KEYS:
        importlib.import_module(f"nmkit.workflows.{key}.models")


__all__ = ["KEYS", "get_workflow", "register_all_models"]
