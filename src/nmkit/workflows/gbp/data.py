"""Gated blood-pool training data: the study's 4 frames per study (ED, ED+2, ES, ES+2) with LV masks.

Frames come from phantoms made in memory (``data.phantom``) or a folder written by `nmkit gbp synth`
(``data.root``). Masks are the phantom's true LV (``labels: truth``) or, as the study did, the consensus
of several observers' LabelMe ROIs (``labels: consensus``: per-pixel mean of the binary masks >= 0.5).
Studies are split 60/20/20 (train/val/test) at the study level, so no frame of a test study is trained on.

Own data (dataset.csv): ``study`` (a gated multi-frame file or a folder of frame files), ``roi`` (a LabelMe JSON
file or a folder of them: one file per frame, named by its 0-based number, ``frame_05.json`` or ``05.json``, or
``ed.json`` / ``es.json`` with the row's ``ed_frame`` / ``es_frame``), on any subset of frames (at least ED and
ES); optional ``observer`` (one row per observer and study: each frame's mask is their consensus, >= half of
them), ``ed_frame``, ``es_frame``, ``ef`` (reference EF, %), ``split``, ``patient_id``. Training takes the frames
that have ROIs, resampled to ``data.size``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from nmkit.datasets import Column, DatasetSpec, OwnDataset, Row, is_own_data, load_dataset, resample_counts
from nmkit.engine.data import TrainValDataModule
from nmkit.errors import InputError
from nmkit.io import Image, consensus_mask, load_image, read_consensus, read_labelme
from nmkit.phantoms.gated import GatedSpec, generate_gated_studies, read_gated_manifest, training_frames

SPLIT = (0.6, 0.2, 0.2)
_CHUNK = 16  # phantom studies generated at a time (only the training frames are kept)


def split_studies(n: int, seed: int, fractions: tuple[float, float, float] = SPLIT) -> dict[str, np.ndarray]:
    """Study indices for train/val/test, a seeded permutation cut by ``fractions``."""
    order = np.random.default_rng(seed).permutation(n)
    n_train = int(round(n * fractions[0]))
    n_val = int(round(n * fractions[1]))
    return {"train": order[:n_train], "val": order[n_train:n_train + n_val], "test": order[n_train + n_val:]}


def phantom_training_set(phantom: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames (N*4, H, W), masks (N*4, H, W) uint8, study index per frame) from phantoms made in memory."""
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in phantom.items() if k != "n"}
    spec = dataclasses.replace(GatedSpec(), **options)
    n = int(phantom["n"])
    frames, masks, study = [], [], []
    for start in range(0, n, _CHUNK):
        for i, s in enumerate(generate_gated_studies(spec, min(_CHUNK, n - start), seed, start=start)):
            keep = training_frames(s.ed_frame, s.es_frame, len(s.frames))
            frames.append(s.frames[keep])
            masks.append(s.lv_masks[keep].astype(np.uint8))
            study += [start + i] * len(keep)
    return np.concatenate(frames), np.concatenate(masks), np.asarray(study)


def folder_training_set(root: str | Path, labels: str = "truth") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same from a folder written by `nmkit gbp synth` (``labels="consensus"`` needs ``--observers``)."""
    root = Path(root)
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        raise InputError(root, "has no manifest.csv (make one with `nmkit gbp synth --out DIR`)")
    frames, masks, study = [], [], []
    for i, rec in enumerate(read_gated_manifest(manifest)):
        stack = load_image(root / rec["path"]).array
        keep = training_frames(rec["ed_frame"], rec["es_frame"], len(stack))
        frames.append(stack[keep])
        if labels == "consensus":
            masks.append(np.stack([_consensus(root / "labelme" / Path(rec["path"]).stem, f, stack.shape[1:])
                                   for f in keep]).astype(np.uint8))
        elif labels == "truth":
            masks.append(np.load(root / rec["mask"])[keep].astype(np.uint8))
        else:
            raise InputError("data.labels", f"must be 'truth' or 'consensus', not {labels!r}")
        study += [i] * len(keep)
    if not frames:
        raise InputError(manifest, "lists no studies")
    return np.concatenate(frames), np.concatenate(masks), np.asarray(study)


def _consensus(folder: Path, frame: int, shape: tuple[int, int]) -> np.ndarray:
    """The observers' consensus LV mask of one frame from ``folder/frame_XX_obsY.json``."""
    files = sorted(folder.glob(f"frame_{frame:02d}_obs*.json"))
    if not files:
        raise InputError(folder, f"has no observer ROIs for frame {frame} (make them with `nmkit gbp synth "
                                 "--observers N`)")
    return read_consensus(files, image_shape=shape)


FRAME_NAME = re.compile(r"frame[_-]?(\d+)")
NUMBER = re.compile(r"(\d+)")
OWN_SIZE = 64


def _roi_frame(path: Path, row: Row) -> int:
    """The 0-based frame a LabelMe file outlines, from its name (frame_05, 05, ed, es)."""
    stem = path.stem.lower()
    tokens = re.split(r"[^a-z0-9]+", stem)
    for phase in ("ed", "es"):
        if phase in tokens:
            if row[f"{phase}_frame"] is None:
                raise InputError(path, f"is the {phase.upper()} ROI, but the row gives no {phase}_frame")
            return int(row[f"{phase}_frame"])
    found = FRAME_NAME.search(stem) or NUMBER.search(stem)
    if not found:
        raise InputError(path, "names no frame (call it frame_05.json, ed.json or es.json)")
    return int(found.group(1))


def roi_masks(row: Row, image: Image) -> dict[int, np.ndarray]:
    """{frame: LV mask} of one row's LabelMe ROI file or folder, drawn on ``image``'s frames."""
    path = row["roi"]
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise InputError(path, "holds no LabelMe .json files")
    masks: dict[int, np.ndarray] = {}
    for file in files:
        frame = _roi_frame(file, row)
        if not 0 <= frame < image.n_frames:
            raise InputError(file, f"outlines frame {frame}, but the study has frames 0-{image.n_frames - 1}")
        masks[frame] = masks.get(frame, False) | read_labelme(file, image_shape=image.array.shape[1:])
    return masks


def read_own_row(row: Row) -> np.ndarray:
    """The study's frames of an own-data row, after checking the row's ROIs fit them (the check's inspect)."""
    from nmkit.workflows.gbp.analyse import load_gated_study

    image = load_gated_study(row["study"])
    roi_masks(row, image)
    return image.array


DATASET = DatasetSpec("gbp", (
    Column("study", "image", required=True), Column("roi", "file", required=True), Column("observer"),
    Column("ed_frame", "int", bounds=(0, 1023)), Column("es_frame", "int", bounds=(0, 1023)),
    Column("ef", "float", bounds=(0, 100))), key="study", inspect=read_own_row)


@dataclasses.dataclass
class OwnStudy:
    """One own-data study: its frames, the consensus LV mask of each frame with ROIs, reference EF, first row."""

    image: Image
    masks: dict[int, np.ndarray]
    ef: float | None
    row: Row


def own_studies(dataset: OwnDataset, rows: list[Row]) -> list[OwnStudy]:
    """The studies of ``rows`` (observer rows of one study merged: per-frame consensus)."""
    from nmkit.workflows.gbp.analyse import load_gated_study

    studies = []
    for group in dataset.items(rows).values():
        image = load_gated_study(group[0]["study"])
        drawn: dict[int, list[np.ndarray]] = {}
        for row in group:
            for frame, mask in roi_masks(row, image).items():
                drawn.setdefault(frame, []).append(mask)
        efs = [row["ef"] for row in group if row["ef"] is not None]
        studies.append(OwnStudy(image, {f: consensus_mask(m) for f, m in sorted(drawn.items())},
                                efs[0] if efs else None, group[0]))
    return studies


def own_training_set(dataset: OwnDataset, rows: list[Row], size: int = OWN_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(frames (N, size, size) counts, masks (N, size, size) uint8) of every frame with an ROI."""
    frames, masks = [], []
    for study in own_studies(dataset, rows):
        for frame, mask in study.masks.items():
            frames.append(resample_counts(study.image.array[frame], (size, size)))
            zoom = [size / n for n in mask.shape]
            masks.append(ndimage.zoom(mask.astype(np.uint8), zoom, order=0, grid_mode=True, mode="nearest"))
    empty = np.zeros((0, size, size), dtype=np.float32)
    return (np.stack(frames) if frames else empty), (np.stack(masks) if masks else empty.astype(np.uint8))


def study_augmentation(shape: tuple[int, int]) -> v2.Compose:
    """The study's augmentation: translation, rotation, scaling, elastic deformation and crop (image and mask
    together); brightness and contrast within +/-10 % (image only, see :func:`jitter_intensity`)."""
    return v2.Compose([
        v2.RandomAffine(degrees=10, translate=(0.05, 0.05), scale=(0.9, 1.1)),
        v2.RandomApply([v2.ElasticTransform(alpha=30.0, sigma=6.0)], p=0.3),
        v2.RandomApply([v2.RandomResizedCrop(tuple(shape), scale=(0.8, 1.0), ratio=(0.9, 1.1), antialias=True)], p=0.3),
    ])


def jitter_intensity(x: torch.Tensor, limit: float = 0.1) -> torch.Tensor:
    """Brightness (scale) and contrast (spread about the mean) each changed by up to +/-``limit``."""
    brightness, contrast = 1 + (torch.rand(2) * 2 - 1) * limit
    mean = x.mean()
    return ((x - mean) * contrast + mean).clamp(min=0) * brightness


class FrameDataset(Dataset):
    """(counts (1, H, W) float, LV mask (H, W) long) pairs, augmented as the study when ``augment``."""

    def __init__(self, frames: np.ndarray, masks: np.ndarray, augment: bool = False):
        self.frames = torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32))
        self.masks = torch.from_numpy(np.ascontiguousarray(masks, dtype=np.int64))
        self.transform = study_augmentation(self.frames.shape[-2:]) if augment else None

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int):
        x, y = self.frames[i][None], self.masks[i]
        if self.transform is not None:
            x, y = self.transform(tv_tensors.Image(x), tv_tensors.Mask(y))
            x, y = jitter_intensity(x.as_subclass(torch.Tensor)), y.as_subclass(torch.Tensor)
        return x, y


class GatedDataModule(TrainValDataModule):
    """Train and validation frames of the study-level 60/20/20 split (the test fifth is never loaded)."""

    def setup(self, stage: str | None = None) -> None:
        if self.data.get("root") and is_own_data(self.data["root"]):
            dataset = load_dataset(self.data, DATASET, self.seed)
            size = int(self.data.get("size", OWN_SIZE))
            frames, masks = own_training_set(dataset, dataset.rows_in("train"), size)
            self.train_set = FrameDataset(frames, masks, augment=bool(self.data.get("augment", True)))
            self.val_set = FrameDataset(*own_training_set(dataset, dataset.rows_in("val"), size))
            return
        if "root" in self.data:
            frames, masks, study = folder_training_set(self.data["root"], self.data.get("labels", "truth"))
        else:
            frames, masks, study = phantom_training_set(self.data["phantom"], self.seed)
        parts = split_studies(int(study.max()) + 1, self.seed, tuple(self.data.get("split", SPLIT)))
        train, val = np.isin(study, parts["train"]), np.isin(study, parts["val"])
        self.train_set = FrameDataset(frames[train], masks[train], augment=bool(self.data.get("augment", True)))
        self.val_set = FrameDataset(frames[val], masks[val])

