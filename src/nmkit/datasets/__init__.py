"""The own-data format (v1): a folder with ``dataset.csv``, paths relative to it. Knows no workflow.

A workflow declares its columns once, as a :class:`DatasetSpec` of :class:`Column` s (required ones, kinds,
label spellings, bounds) with a ``key`` column (one item), an optional ``label`` column and an ``inspect``
function that reads one row's pixels. Then:

- ``read_table(root, spec) -> OwnDataset``: parsed rows (``row["image"]`` is an absolute Path,
  labels ints, blanks None, ``row.line`` the CSV line, ``row.split``, ``row.group`` the patient); problems are
  collected in ``.problems``, never raised one by one. A path leaving the folder is a problem.
- ``load_dataset(data, spec, seed)``: what training calls with a config's ``data`` section: reads
  ``data["root"]``, raises :class:`DatasetError` (an InputError: exit 2, one message listing every problem
  with its line) and assigns splits: the ``split`` column, else a seeded patient-level split
  (``val_fraction`` / ``test_fraction`` or ``split: [train, val, test]``), or fold ``data["fold"]`` of
  ``data["folds"]``.
- ``check_dataset(root, spec, needs=("train", "val")) -> CheckReport``: every problem at once (missing
  columns or files, bad labels, unreadable or wrong files via ``spec.inspect``, exact duplicates by pixel
  hash, a patient in two splits, empty splits), label counts per split and image sizes;
  ``.raise_for_errors()``, ``.as_dict()``, ``.format()``.
- ``write_split_csv(dataset, path)``; ``training_hashes(dataset)`` (sha256 of every train/val image, for a
  bundle) and ``overlap(dataset, rows, hashes)`` (for evaluation to refuse).
- ``evaluation_rows(dataset)``: the test rows, or every row when dataset.csv has no split column.
- ``dataset_app(spec)``: the ``nmkit <workflow> dataset check DIR [--json]`` Typer sub-command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nmkit.datasets.check import CheckReport, check_dataset
from nmkit.datasets.hashes import file_sha256, overlap, row_hashes, training_hashes
from nmkit.datasets.split import assign_fold, assign_split, split_fractions, write_split_csv
from nmkit.datasets.table import (SPLITS, TABLE, Column, DatasetError, DatasetSpec, OwnDataset, Problem, Row,
                                  is_own_data, read_table)

__all__ = ["SPLITS", "TABLE", "CheckReport", "Column", "DatasetError", "DatasetSpec", "OwnDataset", "Problem",
           "Row", "assign_fold", "assign_split", "check_dataset", "evaluation_rows", "file_sha256",
           "is_own_data", "load_dataset", "overlap", "read_table", "row_hashes", "split_fractions",
           "training_hashes", "write_split_csv"]


def load_dataset(data: Mapping[str, Any], spec: DatasetSpec, seed: int) -> OwnDataset:
    """The own-data set of a config's ``data`` section, with every row's split; DatasetError on any problem."""
    dataset = read_table(data["root"], spec)
    if dataset.problems:
        raise DatasetError(dataset.table, dataset.problems)
    val, test = split_fractions(data)
    assign_split(dataset, seed, val, test)
    if data.get("folds"):
        assign_fold(dataset, seed, int(data.get("fold", 0)), int(data["folds"]))
    return dataset


def evaluation_rows(dataset: OwnDataset) -> list[Row]:
    """The rows evaluation scores: the test rows, or all rows when dataset.csv has no split column."""
    return dataset.rows_in("test") if dataset.split_given else list(dataset.rows)
