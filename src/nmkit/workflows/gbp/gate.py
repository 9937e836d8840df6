"""What `nmkit gbp ef` takes: a gated blood-pool study, from its content (see :mod:`nmkit.io.describe`)."""

from __future__ import annotations

import numpy as np

from nmkit.io import Image
from nmkit.io.describe import Admission, describe

TAKES = "a gated blood-pool study: an NM DICOM (or NIfTI, .npy, folder of frames) of 8 to 64 gated frames of counts"
MIN_FRAMES, MAX_FRAMES = 8, 64


def admit(image: Image) -> Admission:
    """Accept 8-64 frames of non-negative counts: an NM DICOM that is gated (or at least not whole-body,
    dynamic or tomographic), or a non-DICOM stack of frames."""
    d = describe(image)

    def refuse(why: str = "") -> Admission:
        return Admission(False, d.phrase, TAKES, why)

    if d.modality is not None and d.modality != "NM":
        return refuse()
    if d.whole_body or d.dynamic or (d.tomographic and not d.gated):
        return refuse()
    if not MIN_FRAMES <= d.n_frames <= MAX_FRAMES:
        return refuse(f"with {d.n_frames} frame{'s' if d.n_frames != 1 else ''}")
    if not d.non_negative:
        return refuse("with negative values, which counts cannot be")
    return Admission(True, d.phrase, TAKES)


LV_SHARE = (0.002, 0.15)  # share of the frame a left ventricle's ED ROI covers in a blood-pool study
EF_RANGE = (5.0, 95.0)


def systoles(curve: np.ndarray, depth: float = 0.15) -> int:
    """Dips of a cyclic LV curve deeper than ``depth`` x its range on both sides: one per cardiac cycle."""
    c = np.asarray(curve, dtype=np.float64)
    span = float(c.max() - c.min())
    if span <= 0:
        return 0
    count = 0
    for i in np.flatnonzero((c <= np.roll(c, 1)) & (c < np.roll(c, -1))):
        rolled = np.roll(c, -i)  # the dip first; the curve is cyclic
        half = len(c) // 2
        if min(rolled[1:half + 1].max(), rolled[half:].max()) - c[i] >= depth * span:
            count += 1
    return count


def implausible(ed_roi: np.ndarray, curve: np.ndarray, ef: float) -> list[str]:
    """Why an LV result does not look like a left ventricle (empty when it does): ED ROI of plausible size,
    a curve with one systole, an EF in range."""
    notes = []
    share = float(np.mean(ed_roi))
    if not LV_SHARE[0] <= share <= LV_SHARE[1]:
        notes.append(f"the ED LV ROI covers {100 * share:.1f} % of the frame, outside the plausible "
                     f"{100 * LV_SHARE[0]:.1f}-{100 * LV_SHARE[1]:.0f} %")
    found = systoles(curve)
    if found != 1:
        notes.append(f"the LV curve shows {found} systoles, not one")
    if not EF_RANGE[0] <= ef <= EF_RANGE[1]:
        notes.append(f"EF {ef:.1f} % is outside {EF_RANGE[0]:g}-{EF_RANGE[1]:g} %")
    return notes
