"""PET training data: axial (early, delayed) slice pairs in SUV / SUV_SCALE, split by patient.

Volumes come from a folder written by `nmkit pet synth` (``data.root``) or from phantoms made in memory
(``data.phantom``: FDGSpec fields plus ``n``). Patients are split train/val/test by a seeded permutation, so
no slice of a test patient is ever trained on. Slices whose early image has no voxel above
:data:`BODY_SUV` (air above the head, below the field) are left out of training.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from nmkit.engine.data import TrainValDataModule
from nmkit.errors import InputError
from nmkit.io import read_nifti
from nmkit.phantoms.fdg import LESION_LABEL_BASE, FDGPatient, FDGSpec, generate_fdg_patients, read_fdg_manifest

SUV_SCALE = 10.0
"""The stated SUV normalisation: networks see SUV / 10 (no clipping), so SUV 10 is 1.0."""
BODY_SUV = 0.1
"""A voxel of the early image above this SUV belongs to the body (body mask, slice selection)."""
SPLIT = (0.7, 0.15, 0.15)


class PatientPair(NamedTuple):
    """One patient's early and delayed SUV volumes (slices, H, W), label map (or None) and lesion records."""

    name: str
    early: np.ndarray
    delayed: np.ndarray
    labels: np.ndarray | None
    lesions: list[dict[str, Any]]
    spacing: tuple[float, float, float]
    affine: list[list[float]] | None


def split_patients(n: int, seed: int, fractions: tuple[float, float, float] = SPLIT) -> dict[str, np.ndarray]:
    """Patient indices for train/val/test: a seeded permutation cut by ``fractions`` (val and test >= 1 each
    when n >= 3)."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(int(round(n * fractions[1])), 1 if n >= 3 else 0)
    n_test = max(int(round(n * fractions[2])), 1 if n >= 3 else 0)
    n_train = n - n_val - n_test
    return {"train": np.sort(order[:n_train]), "val": np.sort(order[n_train:n_train + n_val]),
            "test": np.sort(order[n_train + n_val:])}


def check_pair(early, delayed, source: str | Path) -> None:
    """InputError unless two images (nmkit Images) have the same shape and voxel spacing."""
    if early.shape != delayed.shape:
        raise InputError(source, f"early and delayed volumes differ in shape: {early.shape} vs {delayed.shape}")
    spacing_e = (early.slice_spacing, *early.pixel_spacing)
    spacing_d = (delayed.slice_spacing, *delayed.pixel_spacing)
    if not np.allclose([s or 0 for s in spacing_e], [s or 0 for s in spacing_d], rtol=1e-4):
        raise InputError(source, f"early and delayed volumes differ in voxel spacing: {spacing_e} vs {spacing_d} mm")


def read_patient(root: Path, record: dict[str, Any]) -> PatientPair:
    """One manifest record's volumes; InputError when the pair does not match or is empty."""
    early, delayed = read_nifti(root / record["early"]), read_nifti(root / record["delayed"])
    check_pair(early, delayed, root / record["patient"])
    if not np.any(early.array > BODY_SUV):
        raise InputError(root / record["early"], "the early volume is empty (no voxel above SUV 0.1)")
    labels = read_nifti(root / record["labels"]).array.round().astype(np.int16) if record.get("labels") else None
    spacing = (early.slice_spacing or 1.0, *early.pixel_spacing)
    return PatientPair(record["patient"], early.array, delayed.array, labels, record["lesions"], spacing,
                       early.metadata.get("affine"))


def folder_patients(root: str | Path) -> list[PatientPair]:
    """Every patient of a folder written by `nmkit pet synth`."""
    root = Path(root)
    if not (root / "manifest.csv").is_file():
        raise InputError(root, "has no manifest.csv (make one with `nmkit pet synth --out DIR`)")
    return [read_patient(root, record) for record in read_fdg_manifest(root / "manifest.csv")]


def phantom_spec(phantom: dict[str, Any]) -> FDGSpec:
    """The FDGSpec of a config's ``phantom`` section (FDGSpec fields and ``n``)."""
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in phantom.items() if k != "n"}
    return dataclasses.replace(FDGSpec(), **options)


def phantom_pair(index: int, patient: FDGPatient, spec: FDGSpec) -> PatientPair:
    """Phantom patient ``index`` of a set as a :class:`PatientPair` (named as ``nmkit pet synth`` names it)."""
    return PatientPair(f"patient_{index:05d}", patient.early, patient.delayed, patient.labels,
                       [vars(lesion) for lesion in patient.lesions], spec.spacing, None)


def phantom_patients(phantom: dict[str, Any], seed: int) -> list[PatientPair]:
    """Patients made in memory from ``phantom`` (FDGSpec fields and ``n``)."""
    spec = phantom_spec(phantom)
    return [phantom_pair(i, p, spec) for i, p in enumerate(generate_fdg_patients(spec, int(phantom["n"]), seed))]


def load_patients(data: dict[str, Any], seed: int) -> list[PatientPair]:
    """The patients a config's ``data`` section names (``root`` folder or in-memory ``phantom``)."""
    if "root" in data:
        return folder_patients(data["root"])
    if "phantom" in data:
        return phantom_patients(data["phantom"], seed)
    raise InputError("data", "needs 'root' (a folder from `nmkit pet synth`) or 'phantom' (n and FDGSpec fields)")


def body_slices(patient: PatientPair) -> np.ndarray:
    """Which axial slices hold body (an early voxel above :data:`BODY_SUV`): the slices training uses."""
    return (patient.early > BODY_SUV).any(axis=(1, 2))


def slice_pairs(patients: list[PatientPair]) -> tuple[np.ndarray, np.ndarray]:
    """(early, delayed) axial slices (N, H, W) in SUV / SUV_SCALE, slices without body left out."""
    early, delayed = [], []
    for p in patients:
        keep = body_slices(p)
        early.append(p.early[keep])
        delayed.append(p.delayed[keep])
    return (np.concatenate(early) / SUV_SCALE).astype(np.float32), (np.concatenate(delayed) / SUV_SCALE).astype(np.float32)


def slice_lesions(patients: list[PatientPair]) -> np.ndarray:
    """Lesion masks (N, H, W) float32 of the slices :func:`slice_pairs` keeps: 1 on lesion voxels of the label map,
    0 elsewhere and for patients without one."""
    masks = []
    for p in patients:
        keep = body_slices(p)
        masks.append(p.labels[keep] >= LESION_LABEL_BASE if p.labels is not None else np.zeros_like(p.early[keep]))
    return np.concatenate(masks).astype(np.float32)


class SlicePairs(Dataset):
    """(early (1, H, W), delayed (1, H, W)) tensors; ``paired=False`` draws the delayed slice at random
    (CycleGAN's unpaired training), from the torch RNG so a seeded run repeats."""

    def __init__(self, early: np.ndarray, delayed: np.ndarray, paired: bool = True, lesions: np.ndarray | None = None):
        self.early = torch.from_numpy(np.ascontiguousarray(early))
        self.delayed = torch.from_numpy(np.ascontiguousarray(delayed))
        self.paired = paired
        self.lesions = None if lesions is None else torch.from_numpy(np.ascontiguousarray(lesions))

    def __len__(self) -> int:
        return len(self.early)

    def __getitem__(self, i: int):
        j = i if self.paired else int(torch.randint(len(self.delayed), (1,)))
        if self.lesions is not None:
            return self.early[i][None], self.delayed[j][None], self.lesions[i][None]
        return self.early[i][None], self.delayed[j][None]


class PETDataModule(TrainValDataModule):
    """Train and validation slices of the patient-level split (test patients are never loaded into training)."""

    def __init__(self, data: dict[str, Any], seed: int, paired: bool = True, lesions: bool = False):
        super().__init__(data, seed)
        self.paired = paired
        self.lesions = lesions

    def setup(self, stage: str | None = None) -> None:
        patients = load_patients(self.data, self.seed)
        if len(patients) < 3:
            raise InputError("data", f"needs at least 3 patients for a train/val/test split, not {len(patients)}")
        parts = split_patients(len(patients), self.seed, tuple(self.data.get("split", SPLIT)))
        train = [patients[i] for i in parts["train"]]
        self.train_set = SlicePairs(*slice_pairs(train), paired=self.paired,
                                    lesions=slice_lesions(train) if self.lesions else None)
        self.val_set = SlicePairs(*slice_pairs([patients[i] for i in parts["val"]]))

