"""Fixtures for bonescan tests: a tiny untrained model bundle and a small phantom set on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nmkit.models import create_model, save_bundle
from nmkit.phantoms.bone import BoneSpec, write_bone_set


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """An untrained narrow compact grader: fast, deterministic, enough to exercise every code path."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    return save_bundle(path, "bonescan-compact", {"width": 4}, create_model("bonescan-compact", width=4).eval())


@pytest.fixture(scope="session")
def scan_set(tmp_path_factory) -> Path:
    """Four phantom scans in the study's .mat format with manifest.csv."""
    return write_bone_set(tmp_path_factory.mktemp("scans") / "set", BoneSpec(), 4, seed=1)
