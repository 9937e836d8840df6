"""Set hashes: the sha256 of every image a model was trained on, so evaluation can refuse an overlap."""

from __future__ import annotations

import hashlib
from pathlib import Path

from nmkit.datasets.table import OwnDataset, Row


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes; of a folder (a DICOM series), of its files' names and hashes, sorted."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{item.relative_to(path).as_posix()}\0{file_sha256(item)}\n".encode())
        return digest.hexdigest()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def row_hashes(dataset: OwnDataset, row: Row) -> dict[str, str]:
    """{column: sha256} of a row's image columns."""
    return {c.name: file_sha256(row[c.name]) for c in dataset.spec.columns
            if c.kind == "image" and row[c.name] is not None}


def training_hashes(dataset: OwnDataset, splits: tuple[str, ...] = ("train", "val")) -> list[str]:
    """Sorted sha256 of every image in ``splits`` (train and val: the model saw or was chosen on both)."""
    return sorted({h for row in dataset.rows_in(*splits) for h in row_hashes(dataset, row).values()})


def overlap(dataset: OwnDataset, rows: list[Row], hashes: list[str] | set[str]) -> list[tuple[Row, str]]:
    """(row, column) of each image among ``rows`` whose sha256 is in ``hashes``."""
    known = set(hashes)
    return [(row, column) for row in rows for column, h in row_hashes(dataset, row).items() if h in known]
