"""Fixtures for qc tests: a tiny random model bundle and phantom floods written as files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from nmkit.models import create_model, save_bundle
from nmkit.phantoms.flood import FloodSpec, generate_floods


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """An untrained 2-stage compact model: fast, deterministic, enough to exercise every code path."""
    torch.manual_seed(0)
    kwargs = {"width": 4, "stages": 2}
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    return save_bundle(path, "qc-compact", kwargs, create_model("qc-compact", **kwargs).eval())


def flood_file(folder: Path, name: str = "flood.npy", seed: int = 0, **changes) -> Path:
    """One phantom flood saved as .npy (defaults: normal, 300 counts/px, 96x96)."""
    spec = dataclasses.replace(FloodSpec(), **({"counts": 300.0, "shape": (96, 96), "defect_fraction": 0.0} | changes))
    images, _ = generate_floods(spec, 1, seed)
    path = folder / name
    np.save(path, images[0])
    return path
