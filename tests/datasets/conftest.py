"""A tiny two-class spec and folder for the own-data core's tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nmkit.datasets import Column, DatasetSpec
from nmkit.errors import InputError
from nmkit.io import load_image


def _inspect(row):
    if row["image"].suffix != ".npy":
        raise InputError(row["image"], "is not a .npy image")
    return load_image(row["image"]).array


SPEC = DatasetSpec("toy", (Column("image", "image", required=True),
                           Column("label", "label", required=True, labels={"pass": 0, "fail": 1, "0": 0, "1": 1}),
                           Column("grade", "int", bounds=(0, 4))), key="image", label="label", inspect=_inspect)


def make_folder(root: Path, lines: list[str], header: str = "image,label", images: int = 6) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "img").mkdir(exist_ok=True)
    for i in range(images):
        np.save(root / "img" / f"{i}.npy", np.full((4, 5), i, dtype=np.float32))
    (root / "dataset.csv").write_text("\n".join([header, *lines]) + "\n")
    return root


@pytest.fixture
def spec() -> DatasetSpec:
    return SPEC
