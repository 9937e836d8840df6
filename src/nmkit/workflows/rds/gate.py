"""What `nmkit rds predict` takes: a chest radiograph, from its content (see :mod:`nmkit.io.describe`)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from nmkit.io import Image
from nmkit.io.describe import RADIOGRAPH_MODALITIES, Admission, describe

TAKES = "a chest radiograph: a DX/CR DICOM or a grey PNG/JPEG/TIFF of at least 64 x 64 pixels"
MIN_SIDE = 64


def admit(image: Image) -> Admission:
    """Accept one radiograph: a DICOM of modality DX, CR, RG or DR, or a grey picture that is neither a mask,
    a colour picture nor a flat field (a flood)."""
    d = describe(image)

    def refuse(why: str = "") -> Admission:
        return Admission(False, d.phrase, TAKES, why)

    if d.modality is not None and d.modality not in (*RADIOGRAPH_MODALITIES, "OT"):
        return refuse()
    if d.n_frames != 1:
        return refuse(f"with {d.n_frames} frames, not one radiograph")
    if d.colour:
        return refuse()
    if min(d.rows, d.cols) < MIN_SIDE:
        return refuse("too small to outline lungs")
    if d.modality in RADIOGRAPH_MODALITIES:
        return Admission(True, d.phrase, TAKES)
    if d.binary:
        return refuse()
    if d.flat_field:
        return refuse("a uniform field, as a flood is")
    return Admission(True, d.phrase, TAKES)


LUNG_AREA = (0.05, 0.6)  # share of the image the two lungs cover on a chest radiograph


def implausible(mask: np.ndarray) -> list[str]:
    """Why a predicted lung mask does not look like two lungs (empty when it does): two regions of plausible
    area, one in each half of the image, side by side."""
    notes = []
    labels, n = ndimage.label(mask)
    sizes = np.bincount(labels.ravel())[1:]
    share = float(mask.mean())
    if not LUNG_AREA[0] <= share <= LUNG_AREA[1]:
        notes.append(f"the lungs cover {100 * share:.0f} % of the image, outside the plausible "
                     f"{100 * LUNG_AREA[0]:.0f}-{100 * LUNG_AREA[1]:.0f} %")
    big = np.argsort(sizes)[::-1][:2] + 1
    if n < 2 or sizes[big[1] - 1] < 0.2 * sizes[big[0] - 1]:
        notes.append(f"not two lungs: {n} region{'s' if n != 1 else ''} found")
    else:
        cols = sorted(ndimage.center_of_mass(labels == b)[1] / mask.shape[1] for b in big)
        if not (cols[0] < 0.5 < cols[1]):
            notes.append("the two lung regions are not one on each side of the image")
    return notes
