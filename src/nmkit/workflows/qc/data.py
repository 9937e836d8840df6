"""Flood datasets: phantoms made in memory from the config, a folder written by `nmkit qc synth`, or an own-data
folder (dataset.csv: image, label pass/fail or 0/1; optional split, camera, date), every flood resampled to
``data.size`` x ``data.size`` with its total counts kept."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from nmkit.datasets import Column, DatasetSpec, Row, is_own_data, load_dataset, resample_counts
from nmkit.engine.data import TrainValDataModule
from nmkit.errors import InputError
from nmkit.io import load_image
from nmkit.phantoms.flood import FloodSpec, generate_floods, read_manifest


def spec_from_config(phantom: dict[str, Any], counts: float | None = None) -> FloodSpec:
    """A FloodSpec from a config's ``data.phantom`` mapping (``paper: true`` starts from the study's grid)."""
    options = {k: v for k, v in phantom.items() if k not in ("paper", "n", "counts")}
    for key in ("shape", "alphas", "diameters", "defect_types"):
        if key in options:
            options[key] = tuple(options[key])
    spec = FloodSpec.paper() if phantom.get("paper") else FloodSpec()
    if counts is not None:
        options["counts"] = float(counts)
    return dataclasses.replace(spec, **options)


VARIED_KEYS = ("counts", "fov", "nonuniformity")


def make_phantom_set(phantom: dict[str, Any], seed: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Images and records for a config's phantom section.

    ``counts``, ``fov`` and ``nonuniformity`` may each be a list: every combination gets an equal share of ``n``.
    """
    varied = [k for k in VARIED_KEYS if isinstance(phantom.get(k), list)]
    combos = list(itertools.product(*(phantom[k] for k in varied))) or [()]
    n = int(phantom["n"])
    shares = [n // len(combos) + (i < n % len(combos)) for i in range(len(combos))]
    images, records = [], []
    for i, (values, share) in enumerate(zip(combos, shares)):
        section = phantom | dict(zip(varied, values))
        imgs, recs = generate_floods(spec_from_config(section, section.get("counts")), share, seed + 1000 * i)
        images.append(imgs)
        records += recs
    return np.concatenate(images), records


def load_flood_folder(root: str | Path) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Images and records of a folder written by `nmkit qc synth` (manifest.csv + images/)."""
    root = Path(root)
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        raise InputError(root, "has no manifest.csv (make one with `nmkit qc synth --out DIR`)")
    records = read_manifest(manifest)
    if not records:
        raise InputError(manifest, "lists no images")
    images = np.stack([np.load(root / r["file"]).astype(np.float32) for r in records])
    return images, records


FLOOD_LABELS = {"pass": 0, "fail": 1, "0": 0, "1": 1}
FLOOD_MODALITIES = ("NM", "OT")
OWN_SIZE = 256


def read_flood(row: Row) -> np.ndarray:
    """The flood (H, W) counts of an own-data row; InputError for several frames or a non-NM modality."""
    image = load_image(row["image"])
    if image.modality not in FLOOD_MODALITIES:
        raise InputError(row["image"], f"is {image.modality}, not a gamma-camera flood (NM)")
    return image.plane()


DATASET = DatasetSpec("qc", (Column("image", "image", required=True),
                             Column("label", "label", required=True, labels=FLOOD_LABELS),
                             Column("camera"), Column("date")), key="image", label="label", inspect=read_flood)


def own_floods(rows: list[Row], size: int = OWN_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(floods (N, size, size) counts, labels (N,)) of own-data rows."""
    images = [resample_counts(read_flood(row), (size, size)) for row in rows]
    empty = np.zeros((0, size, size), dtype=np.float32)
    return np.stack(images) if images else empty, np.array([row["label"] for row in rows], dtype=np.int64)


class FloodDataset(Dataset):
    """(counts tensor (1, H, W), label) pairs, with random flips when ``augment``."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, augment: bool = False):
        self.images = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.augment = augment

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        x = self.images[i][None]
        if self.augment:
            flips = [d for d, flip in zip((1, 2), torch.rand(2) < 0.5) if flip]
            if flips:
                x = torch.flip(x, flips)
        return x, self.labels[i]


class FloodDataModule(TrainValDataModule):
    """Train/validation split (``val_fraction``, default 0.3 as the study) of a flood set."""

    def setup(self, stage: str | None = None) -> None:
        if self.data.get("root") and is_own_data(self.data["root"]):
            dataset = load_dataset(self.data, DATASET, self.seed)
            size = int(self.data.get("size", OWN_SIZE))
            images, labels = own_floods(dataset.rows_in("train"), size)
            self.train_set = FloodDataset(images, labels, augment=bool(self.data.get("augment", True)))
            self.val_set = FloodDataset(*own_floods(dataset.rows_in("val"), size))
            return
        if "root" in self.data:
            images, records = load_flood_folder(self.data["root"])
        else:
            images, records = make_phantom_set(self.data["phantom"], self.seed)
        labels = np.array([r["label"] for r in records])
        order = np.random.default_rng(self.seed).permutation(len(labels))
        n_val = int(round(len(labels) * float(self.data.get("val_fraction", 0.3))))
        val, train = order[:n_val], order[n_val:]
        self.train_set = FloodDataset(images[train], labels[train], augment=bool(self.data.get("augment", True)))
        self.val_set = FloodDataset(images[val], labels[val])

