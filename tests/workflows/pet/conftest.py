"""A tiny synthesised FDG set and an untrained tiny generator bundle, shared by the pet tests."""

from __future__ import annotations

import pytest

from nmkit.models import create_model, save_bundle
from nmkit.phantoms.fdg import FDGSpec, write_fdg_set

TINY_SPEC = FDGSpec(size=40, pixel_mm=10.6912, slices=12, slice_mm=10.0)
TINY_GENERATOR = {"base": 4, "depth": 3}


@pytest.fixture(scope="module")
def fdg_set(tmp_path_factory):
    return write_fdg_set(tmp_path_factory.mktemp("fdg") / "set", TINY_SPEC, 4, seed=3)


@pytest.fixture(scope="module")
def generator_bundle(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.pt"
    config = {"seed": 0, "gan": {"method": "pix2pix"}, "data": {"split": [0.5, 0.25, 0.25]}}
    return save_bundle(path, "pet-unet-generator", TINY_GENERATOR, create_model("pet-unet-generator", **TINY_GENERATOR),
                       {"config": config})
