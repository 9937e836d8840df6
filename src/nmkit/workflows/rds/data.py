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

import csv
import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image as PILImage
from scipy import ndimage
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, default_collate

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
    """A synth or prepared record's lung mask: its mask PNG when listed, else its LabelMe file."""
    return read_lung_mask(root / (record.get("mask") or record.get("json")
                                  or f"json/{Path(record['filepath']).stem}.json"), shape)


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


def phantom_set(phantom: dict[str, Any] | list[dict[str, Any]], size: int, seed: int) -> RdsSet:
    """``phantom["n"]`` phantom radiographs made in memory (other keys are ChestSpec fields, and ``seed``, default the
    run's), split as the study; a list of such dicts makes each part so and joins them (e.g. simple and realistic)."""
    if isinstance(phantom, list):
        parts = [phantom_set(part, size, seed) for part in phantom]
        return RdsSet(*(np.concatenate([getattr(part, f.name) for part in parts])
                        for f in dataclasses.fields(RdsSet)))
    seed = int(phantom.get("seed", seed))
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in phantom.items() if k not in ("n", "seed")}
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


# --- Own data (dataset.csv with an ``image`` column): the rds rows of the own-data format v1. ---

LABEL_COLUMN = "rds"
BINARY = {"0": 0, "1": 1, "no": 0, "yes": 1, "false": 0, "true": 1, "negative": 0, "positive": 1}
"""Spellings of a binary finding in dataset.csv (lower-case)."""
RADIOGRAPH_MODALITIES = ("DX", "CR", "RG", "OT")
"""DICOM modalities a radiograph may carry (OT: secondary capture of a scanned film)."""


def label_column(data: dict[str, Any]) -> str:
    """The finding a config trains on: ``data.label_column``, default ``rds`` (e.g. ``pneumonia``)."""
    return str(data.get("label_column") or LABEL_COLUMN)


def is_own_data(root: str | Path) -> bool:
    """Whether ``root`` holds an own-data rds set: a dataset.csv whose header has an ``image`` column (sets from
    `nmkit rds synth` and `prepare` name their images ``filepath`` and keep the study's split)."""
    table = Path(root) / "dataset.csv"
    if not table.is_file():
        return False
    with table.open(newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), [])
    return "image" in (h.strip() for h in header)


def read_lung_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A lung mask (H, W) bool from a PNG/TIFF, a NIfTI (one slice) or a LabelMe file (polygons labelled lung);
    InputError when it is empty or its size differs from the image's."""
    if path.suffix.lower() == ".json":
        return lung_mask_from_json(path, shape)
    image = load_image(path)
    if image.n_frames != 1:
        raise InputError(path, f"holds {image.n_frames} slices; a lung mask is one 2-D image")
    mask = image.array[0] > 0
    if mask.shape != shape:
        raise InputError(path, f"is {mask.shape[0]} x {mask.shape[1]}, the image {shape[0]} x {shape[1]}")
    if not mask.any():
        raise InputError(path, "is an empty lung mask")
    return mask


def read_own_radiograph(path: Path) -> np.ndarray:
    """An own-data radiograph as (H, W) uint8 (:func:`read_radiograph`); InputError for a DICOM file of another
    modality (NM, PT, CT, MR ...)."""
    if path.suffix.lower() in (".dcm", ".dicom", "") or path.is_dir():
        modality = load_image(path).modality
        if modality not in RADIOGRAPH_MODALITIES:
            raise InputError(path, f"is a {modality} image; rds takes radiographs (DX, CR) or grey PNG/JPEG")
    return read_radiograph(path)


def inspect_row(row) -> np.ndarray:
    """Read one dataset row (its image, and its mask when listed) for `dataset check`; the image's pixels."""
    grey = read_own_radiograph(row["image"])
    if row["mask"] is not None:
        read_lung_mask(row["mask"], grey.shape)
    return grey


def rds_spec(label: str = LABEL_COLUMN):
    """The rds columns of dataset.csv: **image** (DX/CR DICOM, PNG or JPEG), **label** (0/1; ``rds`` unless a
    config names another finding), mask (PNG, NIfTI or LabelMe lung mask), patient_id; split as the core reads it."""
    from nmkit.datasets import Column, DatasetSpec

    columns = (Column("image", "image", required=True), Column(label, "label", required=True, labels=BINARY),
               Column("mask", "file"), Column("patient_id", "text"))
    return DatasetSpec("rds", columns, key="image", label=label, inspect=inspect_row)


def dataset_spec(data: dict[str, Any]):
    """The engine's hook: the spec of a config's own-data folder (its ``data.label_column``), or None for a folder
    from `nmkit rds synth` / `prepare`, which this workflow reads as the study did."""
    return rds_spec(label_column(data)) if data.get("root") and is_own_data(data["root"]) else None


def own_data_set(data: dict[str, Any], size: int, seed: int, needs_masks: bool) -> RdsSet:
    """The rows of an own-data folder (``data.root``) with the core's splits, resampled to ``size``; lung masks
    where listed (all-zero otherwise; ``needs_masks`` makes a missing one an error)."""
    from nmkit.datasets import DatasetError, Problem, load_dataset

    label = label_column(data)
    dataset = load_dataset(data, rds_spec(label), seed)
    missing = [Problem("has no mask (lung segmentation and the lung classifier need one per row)", row.line, "mask")
               for row in dataset.rows if needs_masks and row["mask"] is None]
    if missing:
        raise DatasetError(dataset.table, missing)
    images, masks = [], []
    for row in dataset.rows:
        grey = read_own_radiograph(row["image"])
        mask = read_lung_mask(row["mask"], grey.shape) if row["mask"] is not None else np.zeros(grey.shape, bool)
        image, mask = resize_pair(grey, mask, size)
        images.append(image)
        masks.append(mask)
    labels = np.array([row[label] for row in dataset.rows], dtype=np.int64)
    return RdsSet(np.stack(images), np.stack(masks), labels, np.zeros(len(labels), dtype=np.int64),
                  np.array([row.split for row in dataset.rows]))


def build_set(data: dict[str, Any], seed: int, task: str = "classification") -> RdsSet:
    """The set a config's ``data`` section names."""
    size = int(data.get("size", 128))
    if "root" in data and is_own_data(data["root"]):
        return own_data_set(data, size, seed, needs_masks=task == "segmentation" or data.get("input") == "lungs")
    if "root" in data:
        return folder_set(data["root"], size, seed)
    if "phantom" in data:
        return phantom_set(data["phantom"], size, seed)
    raise InputError("data", "needs 'root' (an own-data folder, or one from `nmkit rds synth`) or 'phantom' (n: ...)")


def augment_radiograph(images: torch.Tensor, masks: torch.Tensor | None = None,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A random look of each image of a batch (N, 1, S, S) in 0..1 and of its mask (N, S, S) or None, as real
    radiographs differ from phantoms and from each other: an affine shared by image and mask (rotation +/-12
    degrees, scale 0.8-1.25, shift +/-8 %), then on the image only gamma 0.5-2, contrast 0.6-1.5 and brightness
    +/-0.15, blur or sharpening (an unsharp mask; width 0.5-2.5 px at 128 px, scaled to S) and noise. One draw
    per image, the whole batch at once."""
    n, size = images.shape[0], images.shape[-1]

    def draw(low: float, high: float) -> torch.Tensor:
        return torch.empty(n).uniform_(low, high, generator=generator)

    angle, scale = torch.deg2rad(draw(-12, 12)), draw(0.8, 1.25)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, draw(-0.16, 0.16)], 1),
                         torch.stack([sin, cos, draw(-0.16, 0.16)], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if masks is not None:
        masks = F.grid_sample(masks[:, None].float(), grid, mode="nearest", align_corners=False)[:, 0].long()
    per_image = (n, 1, 1, 1)
    images = images.clamp(0, 1) ** draw(0.5, 2.0).view(per_image)
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = (images - mean) * draw(0.6, 1.5).view(per_image) + mean + draw(-0.15, 0.15).view(per_image)
    sigma = draw(0.5, 2.5) * size / 128
    radius = int(math.ceil(3 * float(sigma.max())))
    taps = torch.arange(-radius, radius + 1, dtype=images.dtype)
    kernel = torch.exp(-0.5 * (taps[None] / sigma[:, None]) ** 2)
    kernel = (kernel / kernel.sum(1, keepdim=True))[:, None, None]  # (N, 1, 1, K)
    rows = images.transpose(0, 1)  # (1, N, S, S): one group per image
    blurred = F.conv2d(F.pad(rows, (radius, radius, 0, 0), mode="replicate"), kernel, groups=n)
    blurred = F.conv2d(F.pad(blurred, (0, 0, radius, radius), mode="replicate"), kernel.transpose(2, 3), groups=n)
    images = images + (blurred.transpose(0, 1) - images) * draw(-1.5, 1.0).view(per_image)  # < 0 sharpens
    noise = torch.randn(images.shape, generator=generator) * draw(0.0, 0.05).view(per_image)
    return (images + noise).clamp(0, 1), masks


def augmenting_collate(kind: str):
    """A DataLoader collate that stacks a batch, then augments it at once (:func:`augment_radiograph`): ``seg``
    moves the masks with the images; ``cls`` leaves the labels as they are."""
    def collate(batch):
        x, y = default_collate(batch)
        x, masks = augment_radiograph(x, y if kind == "seg" else None)
        return x, (masks if kind == "seg" else y)

    return collate


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
    """(input (1, S, S) float, label) pairs. ``augment``: True, the study's random horizontal and vertical flips;
    ``radiograph``, horizontal flips only (real radiographs are never upside down), and the data module adds
    :func:`augment_radiograph` per batch."""

    def __init__(self, rds_set: RdsSet, kind: str = "lungs", augment: bool | str = False, margin: int = 0):
        if augment not in (False, True, "radiograph"):
            raise InputError("data.augment", f"must be true, false or radiograph, not {augment!r}")
        inputs = classifier_input(rds_set.images, rds_set.masks, kind, margin)
        self.inputs = torch.from_numpy(inputs.astype(np.float32))
        self.labels = torch.from_numpy(rds_set.rds.astype(np.int64))
        self.augment = augment

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int):
        x = self.inputs[i][None]
        if self.augment:
            axes = (-1,) if self.augment == "radiograph" else (-1, -2)
            flips = [d for d, flip in zip(axes, torch.rand(len(axes)) < 0.5) if flip]
            x = x.flip(flips) if flips else x
        return x, self.labels[i]


class RdsDataModule(TrainValDataModule):
    """Train and val parts of the split for ``task`` segmentation or classification. Segmentation with
    ``data.augment: true``, and classification with ``data.augment: radiograph``, get :func:`augment_radiograph`
    on every training batch."""

    def __init__(self, task: str, data: dict[str, Any], seed: int):
        super().__init__(data, seed)
        self.task = task

    def setup(self, stage: str | None = None) -> None:
        full = build_set(self.data, self.seed, self.task)
        train, val = full.subset("train"), full.subset("val")
        if not len(train.rds) or not len(val.rds):
            raise InputError("data", f"the split leaves {len(train.rds)} training and {len(val.rds)} validation "
                                     "images; use at least 10 images")
        if self.task == "segmentation":
            self.train_set, self.val_set = SegmentationSet(train), SegmentationSet(val)
        else:
            kind = "whole" if self.task == "joint" else self.data.get("input", "lungs")
            margin = int(self.data.get("lung_margin", 0))
            self.train_set = ClassificationSet(train, kind, self.data.get("augment", True), margin)
            self.val_set = ClassificationSet(val, kind, margin=margin)

    def train_dataloader(self) -> DataLoader:
        loader = super().train_dataloader()
        augment = self.data.get("augment", False)
        kind = "seg" if self.task == "segmentation" and augment is True else \
            "cls" if self.task != "segmentation" and augment == "radiograph" else None
        if kind is None:
            return loader
        return DataLoader(loader.dataset, batch_size=loader.batch_size, shuffle=True, num_workers=loader.num_workers,
                          drop_last=loader.drop_last, collate_fn=augmenting_collate(kind))
