"""Input gates on every real file in ../shared/data: each workflow must take the files that belong to it and
refuse every other one. Writes the table into BENCHMARKS.md (section "gates").

    PYTHONPATH=src python benchmarks/gates.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, write_section  # noqa: E402

from nmkit.errors import InputError  # noqa: E402
from nmkit.io import load_image  # noqa: E402

WORKFLOWS = ("qc", "gbp", "pet", "bonescan", "rds")
SKIP_SUFFIXES = (".md", ".txt", ".raw", ".npz")
# Which workflow each real file belongs to (None: a QC phantom, mask or test image no workflow analyses).
BELONGS = {"flood/": "qc", "pet/": "pet", "cxr/kermany/": "rds", "cxr/montgomery/1.jpg": "rds",
           "cxr/montgomery/2.jpg": "rds"}


def real_inputs(data: Path) -> list[tuple[str, Path]]:
    """(name, file) for every image file; a folder of slices (a series) counts once, by its first file."""
    out, series = [], set()
    for path in sorted(p for p in data.rglob("*") if p.is_file()):
        if path.suffix.lower() in SKIP_SUFFIXES or path.name.upper().startswith("LICEN"):
            continue
        folder = path.parent
        if sum(1 for p in folder.iterdir() if p.suffix.lower() in (".dcm", ".ima")) > 5:
            if folder in series:
                continue
            series.add(folder)
            out.append((f"{folder.relative_to(data)}/ (series)", path))
        else:
            out.append((str(path.relative_to(data)), path))
    return out


def belongs(name: str) -> str | None:
    return next((key for prefix, key in BELONGS.items() if name.startswith(prefix)), None)


def run(data: Path) -> tuple[list[list[str]], int]:
    gates = {key: importlib.import_module(f"nmkit.workflows.{key}.gate") for key in WORKFLOWS}
    rows, wrong = [], 0
    for name, path in real_inputs(data):
        try:
            image = load_image(path)
        except InputError as err:
            rows.append([name, "-", *["unreadable"] * len(WORKFLOWS), f"({err.problem})"])
            continue
        owner = belongs(name)
        cells = []
        for key in WORKFLOWS:
            accepted = gates[key].admit(image).accepted
            right = accepted == (owner == key)
            wrong += not right
            cells.append(("takes" if accepted else "refuses") + ("" if right else " **(wrong)**"))
        rows.append([name, owner or "none", *cells, gates["qc"].admit(image).what])
    return rows, wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    rows, wrong = run(args.data)
    header = ["file", "belongs to", *WORKFLOWS, "what the file is (describe)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    n = sum(1 for row in rows if row[1] != "-") * len(WORKFLOWS)
    body = f"""## gates: which workflow takes which real file

Every image file in ../shared/data (a series folder counts once) given to each workflow's gate
(`nmkit.workflows.<key>.gate.admit`, on content: DICOM Modality, ImageType, frames, value statistics).
Target: each file is taken by the workflow it belongs to and refused by every other.
Result: {n - wrong} of {n} decisions right, {wrong} wrong.

{chr(10).join(lines)}

Command: `PYTHONPATH=src python benchmarks/gates.py`. Machine: {machine()}.
"""
    write_section("gates", body)
    print(body)


if __name__ == "__main__":
    main()
