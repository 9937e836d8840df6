"""The batch tests' tiny qc model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nmkit.models import create_model, save_bundle


@pytest.fixture(scope="session")
def tiny_qc(tmp_path_factory) -> Path:
    """An untrained 2-stage compact qc model: fast and deterministic."""
    torch.manual_seed(0)
    kwargs = {"width": 4, "stages": 2}
    return save_bundle(tmp_path_factory.mktemp("model") / "tiny.pt", "qc-compact", kwargs,
                       create_model("qc-compact", **kwargs).eval())
