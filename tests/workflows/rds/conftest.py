"""Fixtures for rds tests: tiny untrained bundles of each role and a tiny phantom set (PNG, 64 px)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nmkit.models import create_model, save_bundle
from nmkit.phantoms.chest import ChestSpec, write_chest_set

TINY_UNET = {"depth": 3, "work_size": 32, "decoder_width": 8}
TINY_CNN = {"width": 4, "work_size": 32}


@pytest.fixture(scope="session")
def tiny_kwargs() -> dict[str, dict]:
    """The builder arguments of the tiny bundles, by model name."""
    return {"rds-unet-small": TINY_UNET, "rds-cnn-small": TINY_CNN}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Untrained segmenter, lung classifier and whole-image classifier bundles, with the config each was made by."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models")
    seg = save_bundle(folder / "seg.pt", "rds-unet-small", TINY_UNET, create_model("rds-unet-small", **TINY_UNET),
                      {"config": {"task": "segmentation"}})
    bundles = {"segmenter": seg}
    for role in ("lungs", "whole"):
        config = {"task": "classification", "data": {"input": role}}
        bundles[role] = save_bundle(folder / f"{role}.pt", "rds-cnn-small", TINY_CNN,
                                    create_model("rds-cnn-small", **TINY_CNN), {"config": config})
    return bundles


@pytest.fixture(scope="session")
def png_set(tmp_path_factory) -> Path:
    """Ten 64 px phantom radiographs, devices untied from RDS."""
    return write_chest_set(tmp_path_factory.mktemp("rds") / "set", ChestSpec(shape=(64, 64)), 10, seed=3)
