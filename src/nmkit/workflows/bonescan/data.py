"""Bone-scan data: loading a scan (.mat, DICOM), knee inputs for the models, knee datasets and the data module.

Own data (dataset.csv): ``scan`` (a whole-body NM DICOM with the anterior view first, a folder of two files
anterior then posterior by name, any image nmkit reads, or the study's .mat), ``right_grade`` and
``left_grade`` (0-4, blank = not graded), optional knee centres ``right_row``, ``right_col``, ``left_row``,
``left_col`` (pixels of the scan as stored; used instead of the knee finder), ``split``, ``patient_id``. Every
scan is resampled to ``data.pixel_mm`` (the study's 2.26 mm) before its knees are cropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from nmkit.datasets import Column, DatasetSpec, Row, is_own_data, load_dataset, resample_counts
from nmkit.engine.data import TrainValDataModule
from nmkit.errors import InputError
from nmkit.io import load_image
from nmkit.io.matlab import read_bone_mat
from nmkit.phantoms.bone import BoneSpec, generate_bone_scan, read_bone_manifest
from nmkit.workflows.bonescan.knees import SIDES, Knee, body_mask, crop_knee, find_knees

NUM_GRADES = 5


@dataclasses.dataclass
class WholeBodyScan:
    """An anterior view (H, W) counts, the posterior view if known, and where it came from."""

    anterior: np.ndarray
    posterior: np.ndarray | None
    path: Path
    knee_grades: tuple[int, int] | None = None


def load_scan(paths: str | Path | Sequence[str | Path]) -> WholeBodyScan:
    """A whole-body scan: a study .mat file, a DICOM (or other image) with the anterior view as frame 0
    and the posterior as frame 1 if present, or two files (anterior, posterior)."""
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not 1 <= len(paths) <= 2:
        raise InputError(", ".join(map(str, paths)) or None, "give one scan file, or two (anterior, posterior)")
    if paths[0].suffix.lower() == ".mat":
        if len(paths) == 2:
            raise InputError(paths[1], "a .mat study already holds both views; give it alone")
        study = read_bone_mat(paths[0])
        return WholeBodyScan(study.anterior, study.posterior, paths[0], study.knee_grades)
    views = []
    for path in paths:
        image = load_image(path)
        if image.n_frames > 2 or (len(paths) == 2 and image.n_frames != 1):
            raise InputError(path, f"has {image.n_frames} frames; a whole-body scan has an anterior and at most "
                                   f"a posterior view")
        views += list(image.array)
    for path, view in zip(paths * 2, views):
        if view.max() <= 0:
            raise InputError(path, "holds an empty (all-zero) view")
    return WholeBodyScan(views[0], views[1] if len(views) > 1 else None, paths[0])


STUDY_PIXEL_MM = 2.26
GRADE = {"bounds": (0, 4), "blank_ok": True}
KNEE_COLUMNS = tuple(f"{side}_{axis}" for side in ("right", "left") for axis in ("row", "col"))
SCAN_MODALITIES = ("NM", "OT")


def read_own_scan(row: Row, pixel_mm: float = STUDY_PIXEL_MM) -> tuple[np.ndarray, float]:
    """(anterior view resampled to ``pixel_mm``, the factor applied to pixel coordinates) of an own-data row."""
    path = row["scan"]
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")) if path.is_dir() \
        else [path]
    if not 1 <= len(files) <= 2:
        raise InputError(path, f"holds {len(files)} files; a scan folder holds the anterior and posterior views")
    if files[0].suffix.lower() == ".mat":
        anterior, spacing = load_scan(files).anterior, (STUDY_PIXEL_MM, STUDY_PIXEL_MM)
    else:
        image = load_image(files[0])
        if image.modality not in SCAN_MODALITIES:
            raise InputError(files[0], f"is {image.modality}, not a whole-body bone scan (NM)")
        anterior, spacing = load_scan(files).anterior, image.pixel_spacing
    scale = spacing[0] / pixel_mm, spacing[1] / pixel_mm
    shape = (max(int(round(anterior.shape[0] * scale[0])), 1), max(int(round(anterior.shape[1] * scale[1])), 1))
    return resample_counts(anterior, shape), scale[0]


DATASET = DatasetSpec("bonescan", (
    Column("scan", "image", required=True),
    Column("right_grade", "int", required=True, **GRADE), Column("left_grade", "int", required=True, **GRADE),
    *(Column(name, "float", bounds=(0, 1e5)) for name in KNEE_COLUMNS)),
    key="scan", label="right_grade", inspect=lambda row: read_own_scan(row)[0])


def own_knees(rows: Sequence[Row], pixel_mm: float = STUDY_PIXEL_MM, method: str = "anatomy"
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[list[Knee]]]:
    """(inputs, grades, row index of each knee, [right, left] knees per row in resampled pixels) of own-data
    rows; a row's knee centres are used where given, else the knee finder's."""
    inputs, grades, scans, found = [], [], [], []
    for i, row in enumerate(rows):
        anterior, scale = read_own_scan(row, pixel_mm)
        if all(row[name] is not None for name in KNEE_COLUMNS):
            knees = [Knee(side, int(round(row[f"{side}_row"] * scale)), int(round(row[f"{side}_col"] * scale)))
                     for side in SIDES]
        else:
            knees = find_knees(anterior, method, row["scan"])
        labels = [-1 if row[f"{side}_grade"] is None else row[f"{side}_grade"] for side in SIDES]
        keep = [k for k, grade in enumerate(labels) if grade >= 0]
        found.append(knees)
        if keep:
            inputs.append(knee_inputs(anterior, [knees[k] for k in keep]))
            grades.append(np.array([labels[k] for k in keep], dtype=np.int64))
            scans.append(np.full(len(keep), i))
    return (*_stack(inputs, grades, scans), found)


def knee_inputs(anterior: np.ndarray, knees: Sequence[Knee]) -> np.ndarray:
    """Model inputs (K, 1, 128, 128) float32: each knee crop over the body's mean counts, left knees
    mirrored so the medial compartment is always on the image right."""
    mask = body_mask(anterior)
    level = float(anterior[mask].mean()) if mask.any() else float(anterior.mean())
    crops = []
    for knee in knees:
        crop = crop_knee(anterior, knee) / max(level, 1e-6)
        crops.append(crop[:, ::-1] if knee.side == "left" else crop)
    return np.ascontiguousarray(np.stack(crops)[:, None], dtype=np.float32)


def scan_knee_set(anterior: np.ndarray, grades: Sequence[int], truth: Sequence[tuple[float, float]] | None = None,
                  method: str = "anatomy") -> tuple[np.ndarray, np.ndarray]:
    """(inputs, grades) of the graded knees of one scan, at the found knees (the true ones if none found)."""
    try:
        knees = find_knees(anterior, method)
    except InputError:
        if truth is None:
            raise
        knees = [Knee(side, int(round(r)), int(round(c))) for side, (r, c) in zip(("right", "left"), truth)]
    keep = [i for i, grade in enumerate(grades) if grade >= 0]
    return knee_inputs(anterior, [knees[i] for i in keep]), np.array([grades[i] for i in keep], dtype=np.int64)


def spec_from_config(phantom: dict[str, Any]) -> BoneSpec:
    """A BoneSpec from a config's ``data.phantom`` mapping (``n`` is the number of scans, not a spec field)."""
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in phantom.items() if k != "n"}
    return BoneSpec(**options)


def phantom_knees(spec: BoneSpec, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, grades, scan index of each knee) of ``n`` phantom scans made in memory; a scan without a graded
    knee adds none."""
    inputs, grades, scans = [], [], []
    for i in range(n):
        scan = generate_bone_scan(spec, seed, i)
        if all(grade < 0 for grade in scan.grades):
            continue
        x, y = scan_knee_set(scan.views[0], scan.grades, scan.knees)
        inputs.append(x)
        grades.append(y)
        scans.append(np.full(len(y), i))
    return _stack(inputs, grades, scans)


def folder_knees(root: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, grades, scan index of each knee) of a folder written by `nmkit bonescan synth`."""
    root = Path(root)
    records = read_bone_manifest(root / "manifest.csv")
    if not records:
        raise InputError(root / "manifest.csv", "lists no scans")
    inputs, grades, scans = [], [], []
    for i, record in enumerate(records):
        study = read_bone_mat(root / record["path"])
        truth = [(record["right_knee_row"], record["right_knee_col"]), (record["left_knee_row"], record["left_knee_col"])]
        x, y = scan_knee_set(study.anterior, study.knee_grades, truth)
        inputs.append(x)
        grades.append(y)
        scans.append(np.full(len(y), i))
    return _stack(inputs, grades, scans)


def _stack(inputs, grades, scans) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    empty = np.zeros((0, 1, 128, 128), dtype=np.float32)
    return (np.concatenate(inputs) if inputs else empty, np.concatenate(grades) if grades else np.zeros(0, np.int64),
            np.concatenate(scans) if scans else np.zeros(0, np.int64))


def patient_split(scans: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) knee indices with both knees of a patient on the same side of the split."""
    patients = np.unique(scans)
    order = np.random.default_rng(seed).permutation(patients)
    val_patients = order[:int(round(len(patients) * val_fraction))]
    is_val = np.isin(scans, val_patients)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


class KneeDataset(Dataset):
    """(input (1, 128, 128), grade) pairs; ``augment`` shifts each crop by up to 4 pixels."""

    def __init__(self, inputs: np.ndarray, grades: np.ndarray, augment: bool = False):
        self.inputs = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))
        self.grades = torch.from_numpy(np.asarray(grades, dtype=np.int64))
        self.augment = augment

    def __len__(self) -> int:
        return len(self.grades)

    def __getitem__(self, i: int):
        x = self.inputs[i]
        if self.augment:
            shift = torch.randint(-4, 5, (2,))
            x = torch.roll(x, (int(shift[0]), int(shift[1])), dims=(1, 2))
        return x, self.grades[i]


def class_weights(grades: np.ndarray) -> list[float]:
    """Inverse-frequency weights for the 5 grades (mean 1 over the grades present; 0 for absent ones)."""
    counts = np.bincount(np.asarray(grades, dtype=np.int64), minlength=NUM_GRADES).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max((counts > 0).sum(), 1), 0.0)
    return [round(float(w), 4) for w in weights]


def spec_class_weights(spec: BoneSpec) -> list[float]:
    """Inverse-frequency weights from a phantom spec's grade mix (what :func:`class_weights` would give)."""
    p = np.asarray(spec.grade_weights) / sum(spec.grade_weights)
    weights = np.where(p > 0, 1.0 / np.maximum(p, 1e-12) / max((p > 0).sum(), 1), 0.0)
    return [round(float(w), 4) for w in weights]


def load_knee_data(data: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Knee inputs, grades and scan indices from a config's ``data`` section (``root`` or ``phantom``).

    With ``root``, the last ``test_last`` scans are held out (the study kept its last 40 for testing).
    """
    if "root" in data:
        inputs, grades, scans = folder_knees(data["root"])
        test_last = int(data.get("test_last", 0))
        if test_last:
            keep = scans < scans.max() + 1 - test_last
            inputs, grades, scans = inputs[keep], grades[keep], scans[keep]
        return inputs, grades, scans
    phantom = data["phantom"]
    return phantom_knees(spec_from_config(phantom), int(phantom["n"]), seed)


class KneeDataModule(TrainValDataModule):
    """Patient-level train/validation split (``val_fraction``, default 0.2) of knee crops."""

    drop_last = False

    def setup(self, stage: str | None = None) -> None:
        if self.data.get("root") and is_own_data(self.data["root"]):
            dataset = load_dataset(self.data, DATASET, self.seed)
            pixel_mm = float(self.data.get("pixel_mm", STUDY_PIXEL_MM))
            inputs, grades, _, _ = own_knees(dataset.rows_in("train"), pixel_mm)
            self.train_set = KneeDataset(inputs, grades, augment=bool(self.data.get("augment", True)))
            self.val_set = KneeDataset(*own_knees(dataset.rows_in("val"), pixel_mm)[:2])
            return
        inputs, grades, scans = load_knee_data(self.data, self.seed)
        train, val = patient_split(scans, float(self.data.get("val_fraction", 0.2)), self.seed)
        self.train_set = KneeDataset(inputs[train], grades[train], augment=bool(self.data.get("augment", True)))
        self.val_set = KneeDataset(inputs[val], grades[val])

