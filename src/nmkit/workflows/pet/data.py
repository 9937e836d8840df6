"""PET training data: axial (early, delayed) slice pairs in SUV / SUV_SCALE, split by patient.

Volumes come from a folder written by `nmkit pet synth` (``data.root``), from phantoms made in memory
(``data.phantom``: FDGSpec fields plus ``n``), or from an own-data folder (dataset.csv: ``early``, ``delayed``,
each a PT DICOM series folder (files that are not DICOM, e.g. a licence text, are skipped and named), a PT DICOM
file or a NIfTI volume in SUV; optional ``lesions`` (a label map on the early grid), ``patient_id``, ``split``):
the delayed scan is resampled onto the early grid at ``data.size`` x ``data.size`` in-plane and rigidly
registered to it (:mod:`nmkit.workflows.pet.register`). Patients are split train/val/test by a seeded permutation, so
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

from nmkit.datasets import Column, DatasetSpec, Row, is_own_data, load_dataset
from nmkit.engine.data import TrainValDataModule
from nmkit.errors import InputError
from nmkit.io import Image, detect_format, read_nifti
from nmkit.io.pet import read_pet_suv
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


OWN_SIZE = 128


def read_pet_volume(path: Path) -> tuple[Image, list[str]]:
    """An SUV volume from a PT series folder, a PT DICOM file or a NIfTI file, with the names of the files of a
    folder that are not DICOM (skipped)."""
    if not path.is_dir():
        image = read_nifti(path) if detect_format(path) == "nifti" else read_pet_suv(path)
        return image, []
    files, skipped = [], []
    for file in sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            dicom = detect_format(file) == "dicom"
        except InputError:
            dicom = False
        (files if dicom else skipped).append(file if dicom else file.name)
    if not files:
        raise InputError(path, f"holds no DICOM files ({len(skipped)} other files)")
    return read_pet_suv(files), skipped


def own_pair(row: Row, size: int = OWN_SIZE) -> tuple[PatientPair, dict[str, Any]]:
    """One own-data row as a PatientPair on the early grid (delayed registered), with the registration report
    and the names of skipped non-DICOM files."""
    from nmkit.workflows.pet.register import register_pair

    early, skipped_early = read_pet_volume(row["early"])
    delayed, skipped_delayed = read_pet_volume(row["delayed"])
    for image, path in ((early, row["early"]), (delayed, row["delayed"])):
        if image.n_frames < 2 or min(image.array.shape[1:]) < 8:
            raise InputError(path, f"is not a PET volume ({'x'.join(map(str, image.array.shape))} voxels)")
        if not np.any(image.array > BODY_SUV):
            raise InputError(path, "is empty (no voxel above SUV 0.1)")
    early_grid, delayed_grid, report = register_pair(early, delayed, size)
    labels = None
    if row["lesions"] is not None:
        label_map = read_nifti(row["lesions"])
        if label_map.array.shape != early.array.shape:
            raise InputError(row["lesions"], f"is {label_map.array.shape}, not on the early grid {early.array.shape}")
        from nmkit.workflows.pet.register import resample_labels

        labels = resample_labels(early, label_map, size)
    report["skipped_files"] = skipped_early + skipped_delayed
    spacing = (float(early.slice_spacing or 1.0), *(s * n / size for s, n in zip(early.pixel_spacing,
                                                                                   early.array.shape[1:])))
    lesions = [{"label": int(v)} for v in np.unique(labels) if v >= LESION_LABEL_BASE] if labels is not None else []
    return PatientPair(row.cells.get("patient_id") or row.cells["early"], early_grid, delayed_grid, labels, lesions,
                       spacing, None), report


def _inspect(row: Row) -> tuple[np.ndarray, list[str]]:
    """The check's reading of a row: the pair registered (on a coarse grid), skipped files as a warning."""
    pair, report = own_pair(row, size=32)
    skipped = report["skipped_files"]
    notes = [f"skipped files that are not DICOM: {', '.join(skipped)}"] if skipped else []
    return pair.early, notes + [f"registration residual {report['residual_mm']:.1f} mm (offset before "
                                f"{report['offset_before_mm']:.1f} mm)"] * (report["residual_mm"] > 10)


DATASET = DatasetSpec("pet", (Column("early", "image", required=True), Column("delayed", "image", required=True),
                              Column("lesions", "file")), key="early", inspect=_inspect)


def own_patients(rows: list[Row], size: int = OWN_SIZE) -> list[PatientPair]:
    """The PatientPairs of own-data rows, each delayed scan registered onto its early scan's grid."""
    return [own_pair(row, size)[0] for row in rows]


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
        if self.data.get("root") and is_own_data(self.data["root"]):
            dataset = load_dataset(self.data, DATASET, self.seed)
            size = int(self.data.get("size", OWN_SIZE))
            train = own_patients(dataset.rows_in("train"), size)
            self.train_set = SlicePairs(*slice_pairs(train), paired=self.paired,
                                        lesions=slice_lesions(train) if self.lesions else None)
            self.val_set = SlicePairs(*slice_pairs(own_patients(dataset.rows_in("val"), size)))
            return
        patients = load_patients(self.data, self.seed)
        if len(patients) < 3:
            raise InputError("data", f"needs at least 3 patients for a train/val/test split, not {len(patients)}")
        parts = split_patients(len(patients), self.seed, tuple(self.data.get("split", SPLIT)))
        train = [patients[i] for i in parts["train"]]
        self.train_set = SlicePairs(*slice_pairs(train), paired=self.paired,
                                    lesions=slice_lesions(train) if self.lesions else None)
        self.val_set = SlicePairs(*slice_pairs([patients[i] for i in parts["val"]]))

