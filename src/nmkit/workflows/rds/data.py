"""RDS training data: radiographs, lung masks and RDS labels at a working size, split as the study.

Images come from a folder (``data.root``: written by `nmkit rds synth` or `nmkit rds prepare`) or from
phantoms made in memory (``data.phantom``: ``n`` and any :class:`ChestSpec` field). The split is the
folder's ``split`` column when it has one, else the study's 5 groups by lung area balanced for RDS
(3 train, 1 val, 1 test). Segmentation pairs (image, lung mask); classification pairs (input, RDS) where
the input is the lung-masked image (``data.input: lungs``, true masks, as the study trained) or the whole
image (``whole``, the shortcut comparison, and always for the joint model, which masks by itself), with the
study's horizontal and vertical flips. ``data.lung_margin`` (pixels at the working size, default 0) widens the
lung mask of the classifier input, so it also sees a thin rim of the tissue around the lungs: a reference for
the lung's density whatever the exposure, and one that small outline errors of predicted masks barely move.
The lung input is made the same way in training and at inference (:func:`lung_input`): resample, then mask.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image as PILImage
from scipy import ndimage
from torch.utils.data import Dataset

from nmkit.engine.data import TrainValDataModule
from nmkit.errors import InputError
from nmkit.io import load_image
from nmkit.phantoms.chest import ChestSpec, generate_chest_xray, read_chest_csv, to_png8
from nmkit.workflows.rds.prepare import GROUP_SPLITS, lung_mask_from_json, read_radiograph, split_by_lung_area

INPUTS = ("lungs", "whole")


@dataclasses.dataclass
class RdsSet:
    """Images (N, S, S) float32 0..1, lung masks (N, S, S) uint8, RDS labels, device flags, split names."""

    images: np.ndarray
    masks: np.ndarray
    rds: np.ndarray
    has_device: np.ndarray
    split: np.ndarray

    def subset(self, name: str) -> RdsSet:
        keep = self.split == name
        return RdsSet(*(getattr(self, f.name)[keep] for f in dataclasses.fields(self)))


def resize_pair(image: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 image, bool mask) resampled to size x size: bilinear image in 0..1, nearest mask."""
    picture = PILImage.fromarray(image).resize((size, size), PILImage.Resampling.BILINEAR)
    outline = PILImage.fromarray(mask.astype(np.uint8)).resize((size, size), PILImage.Resampling.NEAREST)
    return np.asarray(picture, dtype=np.float32) / 255.0, np.asarray(outline, dtype=np.uint8)


def widen(masks: np.ndarray, margin: int) -> np.ndarray:
    """Lung masks (..., S, S) dilated by ``margin`` pixels (8-neighbourhood), as bool."""
    masks = np.asarray(masks) > 0
    if margin <= 0:
        return masks
    structure = np.ones((1,) * (masks.ndim - 2) + (3, 3), dtype=bool)
    return ndimage.binary_dilation(masks, structure=structure, iterations=int(margin))


def lung_input(grey: np.ndarray, mask: np.ndarray, size: int, margin: int = 0) -> np.ndarray:
    """The lung classifier's input, made as in training: the (H, W) uint8 image and bool lung mask resampled to
    size x size (:func:`resize_pair`), then the image outside the lungs (widened by ``margin`` px) set to 0.
    Masking at the native size and resampling after would blur the outline, which the classifier misreads."""
    image, outline = resize_pair(grey, mask, size)
    return classifier_input(image, outline, "lungs", margin)


def read_mask(root: Path, record: dict[str, Any], shape: tuple[int, int]) -> np.ndarray:
    """The record's lung mask: its mask PNG when listed, else its LabelMe file."""
    if record.get("mask"):
        mask = load_image(root / record["mask"]).array[0] > 0
        if mask.shape != shape:
            raise InputError(root / record["mask"], f"is {mask.shape[0]} x {mask.shape[1]}, the image "
                                                    f"{shape[0]} x {shape[1]}")
        if not mask.any():
            raise InputError(root / record["mask"], "is an empty lung mask")
        return mask
    return lung_mask_from_json(root / record.get("json", f"json/{Path(record['filepath']).stem}.json"), shape)


def folder_set(root: str | Path, size: int, seed: int = 0) -> RdsSet:
    """Every image of a folder with ``dataset.csv``, resampled to ``size``."""
    root = Path(root)
    records = read_chest_csv(root / "dataset.csv")
    images, masks = [], []
    for rec in records:
        grey = read_radiograph(root / rec["filepath"])
        image, mask = resize_pair(grey, read_mask(root, rec, grey.shape), size)
        images.append(image)
        masks.append(mask)
    rds = np.array([r["rds"] for r in records])
    if "split" in records[0]:
        split = np.array([r["split"] for r in records])
    else:
        split = np.array(GROUP_SPLITS)[split_by_lung_area([r["roi_area"] for r in records], rds, seed)]
    has_device = np.array([r.get("has_device", 0) for r in records])
    return RdsSet(np.stack(images), np.stack(masks), rds, has_device, split)


def phantom_set(phantom: dict[str, Any], size: int, seed: int) -> RdsSet:
    """``phantom["n"]`` phantom radiographs made in memory (other keys are ChestSpec fields), split as the study."""
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in phantom.items() if k != "n"}
    spec = dataclasses.replace(ChestSpec(), **options)
    images, masks, rds, has_device, areas = [], [], [], [], []
    for i in range(int(phantom["n"])):
        xray = generate_chest_xray(spec, seed, i)
        image, mask = resize_pair(to_png8(xray.pixels), xray.lung_mask, size)
        images.append(image)
        masks.append(mask)
        rds.append(xray.rds)
        has_device.append(int(bool(xray.devices)))
        areas.append(int(xray.lung_mask.sum()))
    split = np.array(GROUP_SPLITS)[split_by_lung_area(areas, rds, seed)]
    return RdsSet(np.stack(images), np.stack(masks), np.array(rds), np.array(has_device), split)


def build_set(data: dict[str, Any], seed: int) -> RdsSet:
    """The set a config's ``data`` section names."""
    size = int(data.get("size", 128))
    if "root" in data:
        return folder_set(data["root"], size, seed)
    if "phantom" in data:
        return phantom_set(data["phantom"], size, seed)
    raise InputError("data", "needs 'root' (a folder from `nmkit rds synth`) or 'phantom' (n: ...)")


class SegmentationSet(Dataset):
    """(image (1, S, S) float, lung mask (S, S) long) pairs."""

    def __init__(self, rds_set: RdsSet):
        self.images = torch.from_numpy(rds_set.images)
        self.masks = torch.from_numpy(rds_set.masks.astype(np.int64))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i][None], self.masks[i]


def classifier_input(images: np.ndarray, masks: np.ndarray, kind: str, margin: int = 0) -> np.ndarray:
    """The images masked by the lungs widened by ``margin`` px (``lungs``), or the images themselves (``whole``)."""
    if kind not in INPUTS:
        raise InputError("data.input", f"must be one of {', '.join(INPUTS)}, not {kind!r}")
    return images * widen(masks, margin) if kind == "lungs" else images


class ClassificationSet(Dataset):
    """(input (1, S, S) float, RDS label) pairs; random horizontal and vertical flips when ``augment``."""

    def __init__(self, rds_set: RdsSet, kind: str = "lungs", augment: bool = False, margin: int = 0):
        inputs = classifier_input(rds_set.images, rds_set.masks, kind, margin)
        self.inputs = torch.from_numpy(inputs.astype(np.float32))
        self.labels = torch.from_numpy(rds_set.rds.astype(np.int64))
        self.augment = augment

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int):
        x = self.inputs[i][None]
        if self.augment:
            flips = [d for d, flip in zip((-1, -2), torch.rand(2) < 0.5) if flip]
            x = x.flip(flips) if flips else x
        return x, self.labels[i]


class RdsDataModule(TrainValDataModule):
    """Train and val parts of the study's split for ``task`` segmentation or classification."""

    def __init__(self, task: str, data: dict[str, Any], seed: int):
        super().__init__(data, seed)
        self.task = task

    def setup(self, stage: str | None = None) -> None:
        full = build_set(self.data, self.seed)
        train, val = full.subset("train"), full.subset("val")
        if not len(train.rds) or not len(val.rds):
            raise InputError("data", f"the split leaves {len(train.rds)} training and {len(val.rds)} validation "
                                     "images; use at least 10 images")
        if self.task == "segmentation":
            self.train_set, self.val_set = SegmentationSet(train), SegmentationSet(val)
        else:
            kind = "whole" if self.task == "joint" else self.data.get("input", "lungs")
            margin = int(self.data.get("lung_margin", 0))
            self.train_set = ClassificationSet(train, kind, bool(self.data.get("augment", True)), margin)
            self.val_set = ClassificationSet(val, kind, margin=margin)

