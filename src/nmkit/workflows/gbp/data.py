"""Gated blood-pool training data: the study's 4 frames per study (ED, ED+2, ES, ES+2) with LV masks.

Frames come from phantoms made in memory (``data.phantom``) or a folder written by `nmkit gbp synth`
(``data.root``). Masks are the phantom's true LV (``labels: truth``) or, as the study did, the consensus
of several observers' LabelMe ROIs (``labels: consensus``: per-pixel mean of the binary masks >= 0.5).
Studies are split 60/20/20 (train/val/test) at the study level, so no frame of a test study is trained on.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from nmkit.engine.data import TrainValDataModule
from nmkit.errors import InputError
from nmkit.io import load_image, read_consensus
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
        if "root" in self.data:
            frames, masks, study = folder_training_set(self.data["root"], self.data.get("labels", "truth"))
        else:
            frames, masks, study = phantom_training_set(self.data["phantom"], self.seed)
        parts = split_studies(int(study.max()) + 1, self.seed, tuple(self.data.get("split", SPLIT)))
        train, val = np.isin(study, parts["train"]), np.isin(study, parts["val"])
        self.train_set = FrameDataset(frames[train], masks[train], augment=bool(self.data.get("augment", True)))
        self.val_set = FrameDataset(frames[val], masks[val])

