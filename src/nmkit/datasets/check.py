"""``check_dataset``: read every row of a dataset and list every problem at once, with counts and sizes."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nmkit.datasets.table import SPLITS, TABLE, DatasetError, DatasetSpec, OwnDataset, Problem, read_table
from nmkit.errors import InputError


@dataclass
class CheckReport:
    """What :func:`check_dataset` found: problems (errors and warnings), label counts per split, image sizes."""

    root: Path
    workflow: str
    n_rows: int = 0
    n_items: int = 0
    problems: list[Problem] = field(default_factory=list)
    labels: dict[str, dict[str, int]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    split_given: bool = False

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        """DatasetError (an InputError: exit 2) listing every error with its row."""
        if self.errors:
            raise DatasetError(self.root / TABLE, self.errors)

    def as_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "workflow": self.workflow, "ok": self.ok, "rows": self.n_rows,
                "items": self.n_items, "split_given": self.split_given, "labels_per_split": self.labels,
                "image_sizes": self.sizes, "problems": [p.as_dict() for p in self.problems]}

    def format(self) -> str:
        lines = [f"{self.root / TABLE}: {self.n_rows} rows, {self.n_items} items ({self.workflow})"]
        split_note = "" if self.split_given else " (no split column: a seeded patient-level split at training)"
        for split, counts in self.labels.items():
            lines.append(f"  {split}: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + split_note)
        if self.sizes:
            lines.append("  image sizes: " + ", ".join(f"{k} x{v}" for k, v in self.sizes.items()))
        lines += [f"  {p.severity}: {p}" for p in self.problems]
        lines.append("ok" if self.ok else f"{len(self.errors)} error{'s' * (len(self.errors) != 1)}")
        return "\n".join(lines)


def check_dataset(root: str | Path, spec: DatasetSpec, needs: tuple[str, ...] = (), read: bool = True,
                  dataset: OwnDataset | None = None) -> CheckReport:
    """Check an own-data folder: columns, values, paths, then (``read``) every item's files through
    ``spec.inspect``; exact duplicates (pixel hash), a patient in two splits, label counts per split and
    image sizes. ``needs`` names splits that must hold rows (training needs train and val), checked only when
    splits are given (or ``dataset`` carries assigned ones)."""
    dataset = dataset or read_table(root, spec)
    report = CheckReport(Path(root), spec.workflow, len(dataset.rows), len(dataset.items()),
                         list(dataset.problems), split_given=dataset.split_given)
    if not dataset.rows:
        return report
    has_split = all(r.split for r in dataset.rows)
    by_split: dict[str, list] = {s: dataset.rows_in(s) for s in SPLITS} if has_split else {"all": dataset.rows}
    if spec.label:
        for split, rows in by_split.items():
            counts = Counter(r.cells.get(spec.label, "") or "(blank)" for r in rows)
            report.labels[split] = dict(sorted(counts.items()))
    if has_split:
        for split in needs:
            if not by_split.get(split):
                report.problems.append(Problem(f"the {split} split is empty", None, "split"))
        splits_of: dict[str, set[str]] = {}
        for row in dataset.rows:
            splits_of.setdefault(row.group, set()).add(row.split)
        for group, splits in splits_of.items():
            if len(splits) > 1:
                lines = [r.line for r in dataset.rows if r.group == group]
                report.problems.append(Problem(f"patient {group!r} is in {' and '.join(sorted(splits))} "
                                               f"(lines {', '.join(map(str, lines))})", lines[0], spec.group))
    if read and spec.inspect is not None:
        _read_items(dataset, report)
    return report


def _read_items(dataset: OwnDataset, report: CheckReport) -> None:
    sizes: Counter[str] = Counter()
    seen: dict[str, Any] = {}
    bad_lines = {p.line for p in report.errors}
    for rows in dataset.items().values():
        row = rows[0]
        if any(r.line in bad_lines for r in rows):
            continue
        try:
            pixels = np.asarray(dataset.spec.inspect(row))
        except InputError as err:
            report.problems.append(Problem(str(err).rstrip("."), row.line, dataset.spec.key))
            continue
        sizes["x".join(map(str, pixels.shape))] += 1
        digest = hashlib.sha256(np.ascontiguousarray(pixels).tobytes() + str(pixels.shape).encode()).hexdigest()
        if digest in seen:
            first = seen[digest]
            leak = first.split != row.split
            report.problems.append(Problem(
                f"same pixels as line {first.line}" + (f" ({first.split} vs {row.split})" if leak else ""),
                row.line, dataset.spec.key, "error" if leak else "warning"))
        else:
            seen[digest] = row
    report.sizes = dict(sizes.most_common())
