"""The workflows, one package per key. Importing this package registers every workflow's models."""

from __future__ import annotations

from types import ModuleType

from nmkit.workflows import bonescan, gbp, pet, qc, rds

WORKFLOWS: dict[str, ModuleType] = {"qc": qc, "gbp": gbp, "bonescan": bonescan, "pet": pet, "rds": rds}


def get_workflow(key: str) -> ModuleType:
    """The workflow package for ``key`` (e.g. ``"qc"``); it provides build_task and build_datamodule."""
    if key not in WORKFLOWS:
        raise KeyError(f"unknown workflow {key!r}; known: {', '.join(sorted(WORKFLOWS))}")
    return WORKFLOWS[key]
