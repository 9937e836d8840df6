"""Reading ``dataset.csv``: columns declared per workflow, values parsed per column, every problem collected."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nmkit.errors import InputError

TABLE = "dataset.csv"
SPLITS = ("train", "val", "test")
KINDS = ("image", "file", "label", "int", "float", "text")


@dataclass(frozen=True)
class Column:
    """One column of a workflow's dataset.csv.

    ``kind``: "image" (a path to pixels: hashed, read by the check), "file" (a path to anything else, e.g. a
    LabelMe JSON), "label" (one of ``labels``' spellings, lower-case, mapped to its class), "int" / "float"
    (within ``bounds``, inclusive), "text". A blank cell is allowed in an optional column, and in a required
    one only when ``blank_ok`` (e.g. a knee that was not graded); blank reads as None.
    """

    name: str
    kind: str = "text"
    required: bool = False
    labels: Mapping[str, int] | None = None
    bounds: tuple[float, float] | None = None
    blank_ok: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column kind must be one of {', '.join(KINDS)}, not {self.kind!r}")


@dataclass(frozen=True)
class DatasetSpec:
    """What a workflow's dataset.csv holds.

    ``key``: the column naming one item (rows sharing it, e.g. several observers of one study, are one item).
    ``label``: the column counted per split by the check. ``group``: rows sharing its value stay in one split
    (the patient); where the column is absent or blank, the item (``key``) is its own group.
    ``inspect``: reads one row's files and returns its pixels (for sizes and exact-duplicate hashes), raising
    :class:`~nmkit.errors.InputError` for anything wrong (unreadable file, wrong modality); None skips reading.
    """

    workflow: str
    columns: tuple[Column, ...]
    key: str
    label: str | None = None
    group: str = "patient_id"
    inspect: Callable[[Row], Any] | None = None

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class Problem:
    """One problem of a dataset: ``line`` of dataset.csv (1 = header; None = the whole set) and ``column``."""

    message: str
    line: int | None = None
    column: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = [f"line {self.line}"] if self.line is not None else []
        where += [f"column {self.column}"] if self.column else []
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "severity": self.severity, "message": self.message}


class DatasetError(InputError):
    """A dataset with errors: one message listing each problem with its row (``.problems`` keeps them)."""

    def __init__(self, path: str | Path, problems: list[Problem]):
        self.problems = problems
        listed = "; ".join(str(p) for p in problems)
        super().__init__(path, f"has {len(problems)} problem{'s' * (len(problems) != 1)}: {listed}")


@dataclass
class Row:
    """One row: its ``line`` in dataset.csv, parsed ``values`` (paths absolute, labels as int, blank None),
    the raw ``cells`` and its ``split`` (train/val/test)."""

    line: int
    values: dict[str, Any]
    cells: dict[str, str]
    split: str | None = None
    group: str = ""

    def __getitem__(self, name: str) -> Any:
        return self.values.get(name)

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value


@dataclass
class OwnDataset:
    """A read dataset.csv: its folder, spec and rows; ``split_given`` when the CSV had a split column."""

    root: Path
    spec: DatasetSpec
    rows: list[Row]
    split_given: bool
    problems: list[Problem] = field(default_factory=list)

    @property
    def table(self) -> Path:
        return self.root / TABLE

    def rows_in(self, *splits: str) -> list[Row]:
        """The rows of the given splits, in file order."""
        return [r for r in self.rows if r.split in splits]

    def items(self, rows: list[Row] | None = None) -> dict[str, list[Row]]:
        """Rows grouped by item (the key column's cell), in file order."""
        items: dict[str, list[Row]] = {}
        for row in self.rows if rows is None else rows:
            items.setdefault(row.cells[self.spec.key], []).append(row)
        return items

    def manifest_sha256(self) -> str:
        return hashlib.sha256(self.table.read_bytes()).hexdigest()


def is_own_data(root: str | Path) -> bool:
    """Whether ``root`` is an own-data folder (holds dataset.csv)."""
    return (Path(root) / TABLE).is_file()


def read_table(root: str | Path, spec: DatasetSpec) -> OwnDataset:
    """Read ``root/dataset.csv`` against ``spec``; every problem found goes to ``.problems`` (nothing raised
    for bad rows, so a check can list them all). Splits come from the ``split`` column or stay None."""
    root = Path(root)
    table = root / TABLE
    if not root.is_dir():
        raise InputError(root, "is not a folder")
    if not table.is_file():
        raise InputError(root, f"has no {TABLE} (see README, 'Your own data', for the {spec.workflow} layout)")
    try:
        with table.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in reader.fieldnames or []]
            lines = [(reader.line_num, row) for row in reader]
    except (UnicodeDecodeError, csv.Error) as err:
        raise InputError(table, f"is not a readable CSV ({err})") from err
    problems = [Problem(f"required column '{name}' is missing (columns: {', '.join(header) or 'none'})")
                for name in spec.required if name not in header]
    if problems:
        return OwnDataset(root, spec, [], "split" in header, problems)
    rows = []
    for line, raw in lines:
        cells = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(cells.values()):
            continue
        values: dict[str, Any] = dict(cells)
        for column in spec.columns:
            if column.name in cells:
                values[column.name] = _parse(root, column, cells[column.name], line, problems)
        split = cells.get("split") or None
        if "split" in header and split not in SPLITS:
            problems.append(Problem(f"split {cells.get('split', '')!r} is not one of {', '.join(SPLITS)}", line,
                                    "split"))
        group = cells.get(spec.group) or cells.get(spec.key, "")
        rows.append(Row(line, values, cells, split, group))
    if not rows:
        problems.append(Problem(f"{TABLE} lists no rows"))
    return OwnDataset(root, spec, rows, "split" in header, problems)


def _parse(root: Path, column: Column, cell: str, line: int, problems: list[Problem]) -> Any:
    def bad(message: str) -> None:
        problems.append(Problem(message, line, column.name))

    if not cell:
        if column.required and not column.blank_ok:
            bad("is blank")
        return None
    if column.kind in ("image", "file"):
        path = Path(cell)
        full = (root / path).resolve()
        if path.is_absolute() or not full.is_relative_to(root.resolve()):
            bad(f"path {cell!r} leaves the dataset folder (paths are relative to it)")
            return None
        if not full.exists():
            bad(f"{cell} not found")
            return None
        return root / path
    if column.kind == "label":
        labels = column.labels or {}
        if cell.lower() not in labels:
            bad(f"{cell!r} is not one of {', '.join(labels)}")
            return None
        return labels[cell.lower()]
    if column.kind in ("int", "float"):
        try:
            number = float(cell)
            if column.kind == "int" and not number.is_integer():
                raise ValueError
        except ValueError:
            bad(f"{cell!r} is not {'an integer' if column.kind == 'int' else 'a number'}")
            return None
        if column.bounds and not column.bounds[0] <= number <= column.bounds[1]:
            bad(f"{cell} is outside {column.bounds[0]:g}..{column.bounds[1]:g}")
            return None
        return int(number) if column.kind == "int" else number
    return cell
