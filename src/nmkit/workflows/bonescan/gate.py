"""What `nmkit bonescan predict` takes: a whole-body bone scan, from its content (see :mod:`nmkit.io.describe`).
A study .mat file is taken as it is (its reader checks it)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nmkit.io import Image, load_image
from nmkit.workflows.bonescan.knees import Knee
from nmkit.io.describe import Admission, describe

TAKES = "a whole-body bone scan: a study .mat, or an NM whole-body DICOM (anterior, and posterior if present)"
TALL = 2.0  # a whole-body view is at least twice as tall as it is wide


def admit(image: Image) -> Admission:
    """Accept one or two views of non-negative counts: an NM DICOM marked WHOLE BODY or at least twice as tall as
    wide (or such a non-DICOM image)."""
    d = describe(image)

    def refuse(why: str = "") -> Admission:
        return Admission(False, d.phrase, TAKES, why)

    if d.modality is not None and d.modality != "NM":
        return refuse()
    if d.gated or d.dynamic or d.tomographic:
        return refuse()
    if d.n_frames > 2:
        return refuse(f"with {d.n_frames} frames, not an anterior and a posterior view")
    if not (d.whole_body or d.rows >= TALL * d.cols):
        return refuse(f"not a whole-body view ({d.rows} x {d.cols})")
    if d.binary or not d.non_negative:
        return refuse("whose values are not counts")
    return Admission(True, d.phrase, TAKES)


def admit_files(paths: str | Path | Sequence[str | Path], force: bool = False) -> str | None:
    """Gate each image file of a scan (a .mat study is left to its reader): None, or the --force note."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    notes = [admit(load_image(path)).enforce(path, "bonescan predict", force)
             for path in map(Path, paths) if path.suffix.lower() != ".mat"]
    return next((note for note in notes if note), None)


def implausible(knees: Sequence[Knee], shape: tuple[int, int]) -> list[str]:
    """Why the found knees do not look like a patient's two knees (empty when they do): both found, at about
    the same height, in the lower part of the view, one each side of the other."""
    if len(knees) != 2:
        return [f"{len(knees)} knee{'s' if len(knees) != 1 else ''} found, not two"]
    right, left = knees
    notes = []
    if abs(right.row - left.row) > 0.1 * shape[0]:
        notes.append(f"the knees lie {abs(right.row - left.row)} rows apart, not side by side")
    if min(right.row, left.row) < 0.4 * shape[0]:
        notes.append("a knee was found in the upper part of the body")
    if right.col == left.col:
        notes.append("both knees were found at the same place")
    return notes
