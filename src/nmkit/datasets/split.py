"""Seeded patient-level splits and K folds; the split written next to a run as split.csv."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nmkit.atomic import atomic_path
from nmkit.datasets.table import OwnDataset


def split_fractions(data: Mapping[str, Any]) -> tuple[float, float]:
    """(val, test) fractions from a config's data section: ``val_fraction`` / ``test_fraction`` or
    ``split: [train, val, test]``; default 0.2 validation, no test (a test set is its own folder or rows)."""
    if isinstance(data.get("split"), (list, tuple)):
        parts = np.asarray(data["split"], dtype=float)
        parts = parts / parts.sum()
        return float(parts[1]), float(parts[2]) if len(parts) > 2 else 0.0
    return float(data.get("val_fraction", 0.2)), float(data.get("test_fraction", 0.0))


def _groups(rows) -> list[str]:
    return list(dict.fromkeys(r.group for r in rows))


def assign_split(dataset: OwnDataset, seed: int, val: float = 0.2, test: float = 0.0) -> OwnDataset:
    """Give every row a split unless dataset.csv has a split column: patients (``spec.group``) in a seeded
    order, the first ``test`` fraction to test, the next ``val`` fraction to val (at least one patient each
    when the fraction is > 0 and there are two patients or more), the rest to train."""
    if dataset.split_given:
        return dataset
    groups = _groups(dataset.rows)
    order = [groups[i] for i in np.random.default_rng(seed).permutation(len(groups))]
    n = len(order)
    n_test = min(max(int(round(n * test)), int(test > 0 and n > 2)), n - 1) if n > 1 else 0
    n_val = min(max(int(round(n * val)), int(val > 0 and n > 1)), n - n_test - 1) if n > 1 else 0
    split = {g: "test" for g in order[:n_test]} | {g: "val" for g in order[n_test:n_test + n_val]}
    for row in dataset.rows:
        row.split = split.get(row.group, "train")
    return dataset


def assign_fold(dataset: OwnDataset, seed: int, fold: int, folds: int) -> OwnDataset:
    """K-fold cross-validation: the train and val patients (test rows stay test) in ``folds`` seeded folds;
    fold ``fold`` (0-based) is val, the others train."""
    if not 0 <= fold < folds or folds < 2:
        raise ValueError(f"fold {fold} of {folds}: need 0 <= fold < folds and folds >= 2")
    pool = [r for r in dataset.rows if r.split != "test"]
    groups = _groups(pool)
    order = [groups[i] for i in np.random.default_rng(seed).permutation(len(groups))]
    chosen = set(order[fold::folds])
    for row in pool:
        row.split = "val" if row.group in chosen else "train"
    return dataset


def write_split_csv(dataset: OwnDataset, path: str | Path) -> Path:
    """The split of every row (line, item, patient, split) as CSV, written atomically."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", dataset.spec.key, "patient", "split"])
        for row in dataset.rows:
            writer.writerow([row.line, row.cells[dataset.spec.key], row.group, row.split])
    return Path(path)
