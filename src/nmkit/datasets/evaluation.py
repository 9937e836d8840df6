"""What every workflow's ``evaluate`` shares on own data: the rows to score (never a training image), counts
resampling to a model's grid, and the per-row CSV."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nmkit.atomic import atomic_path
from nmkit.datasets.hashes import overlap
from nmkit.datasets.table import DatasetError, DatasetSpec, OwnDataset, Row, read_table
from nmkit.errors import InputError


def evaluation_rows(dataset: OwnDataset) -> list[Row]:
    """The rows evaluation scores: the test rows, or all rows when dataset.csv has no split column."""
    return dataset.rows_in("test") if dataset.split_given else list(dataset.rows)


def evaluation_set(root: str | Path, spec: DatasetSpec, info: Mapping[str, Any] | None = None
                   ) -> tuple[OwnDataset, list[Row]]:
    """The dataset and the rows evaluation scores: the test rows, or all rows without a split column.
    InputError when dataset.csv has problems, there is nothing to score, or a row holds an image the model
    (``info`` of its bundle) was trained on."""
    dataset = read_table(root, spec)
    if dataset.problems:
        raise DatasetError(dataset.table, dataset.problems)
    rows = evaluation_rows(dataset)
    if not rows:
        raise InputError(dataset.table, "has no test rows to evaluate (split = test)")
    trained = ((info or {}).get("dataset") or {}).get("training_sha256") or []
    seen = overlap(dataset, rows, trained)
    if seen:
        listed = ", ".join(f"line {row.line} ({row.cells[column]})" for row, column in seen)
        raise InputError(dataset.table, f"{len(seen)} image{'s' * (len(seen) != 1)} the model was trained on "
                                        f"would be scored: {listed}; evaluate on images it never saw")
    return dataset, rows


def resample_counts(image: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """A 2-D count image resampled (linear) to ``shape``, scaled so the total counts stay the same (512 -> 256
    gives what 2 x 2 summing gives, on average)."""
    from scipy import ndimage  # here, not at import: `nmkit --help` loads this package and stays light

    image = np.asarray(image, dtype=np.float32)
    if tuple(image.shape) == tuple(shape):
        return image.copy()
    zoom = [n / m for n, m in zip(shape, image.shape)]
    out = ndimage.zoom(image, zoom, order=1, grid_mode=True, mode="nearest")
    return (np.clip(out, 0, None) / float(np.prod(zoom))).astype(np.float32)


def write_rows_csv(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Per-row results as CSV (columns from the first row), written atomically."""
    columns = list(rows[0]) if rows else []
    with atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return Path(path)
