"""The CSV table every phantom set carries (``manifest.csv``, or a study's own ``dataset.csv``): the check that a
target folder is new, empty or a set of the same kind; writing the table; reading it back with typed values."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nmkit.errors import InputError


def check_target(out_dir: Path, table: str, columns: Sequence[str], kind: str) -> None:
    """Refuse an ``out_dir`` that is a file, or a non-empty folder that is not a ``kind`` set with these columns."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(out_dir, "exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        path = out_dir / table
        header = path.read_text().partition("\n")[0].strip() if path.is_file() else ""
        if header != ",".join(columns):
            raise InputError(out_dir, f"is a folder that is not empty and holds no {kind} set ({table}); "
                                      "choose a new or empty folder")


def write_table(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """Write ``rows`` as CSV with a header of ``columns`` (other keys are left out)."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_table(path: str | Path, types: Mapping[str, Callable[[str], Any]], required: Sequence[str] | None = None,
               hint: str = "") -> list[dict[str, Any]]:
    """The rows of a CSV table, each value cast by ``types``; columns outside ``types`` are kept as text.

    Every column in ``required`` (default: all of ``types``) must be in the header and cast cleanly; the
    others are cast when present and not empty. Errors name the file (and the line) in one sentence.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "not found" + (f" ({hint})" if hint else ""))
    required = list(types) if required is None else list(required)
    try:
        return _read_rows(path, types, required)
    except (UnicodeDecodeError, csv.Error) as err:
        raise InputError(path, f"is not a readable CSV table ({type(err).__name__}: {str(err)[:120]})") from None


def _read_rows(path: Path, types: Mapping[str, Callable[[str], Any]], required: list[str]) -> list[dict[str, Any]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(path, f"lacks the column(s) {', '.join(missing)}")
        records = []
        for line, row in enumerate(reader, start=2):
            try:
                typed = {key: cast(row[key]) for key, cast in types.items()
                         if key in required or row.get(key) not in (None, "")}
            except (TypeError, ValueError) as err:
                raise InputError(path, f"line {line} has a bad value ({err})") from None
            records.append({k: v for k, v in row.items() if k not in types} | typed)
    return records
