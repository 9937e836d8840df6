"""What `nmkit qc check` takes: a planar flood, from its content (see :mod:`nmkit.io.describe`)."""

from __future__ import annotations

from nmkit.io import Image
from nmkit.io.describe import Admission, describe

TAKES = "a planar flood: one NM frame (or a grey image) of counts over a uniform field"


def admit(image: Image) -> Admission:
    """Accept one frame of whole, non-negative counts over a flat field: an NM DICOM that is not whole-body,
    gated, dynamic or tomographic, or a non-DICOM grey image whose statistics look like a flood's."""
    d = describe(image)

    def refuse(why: str = "") -> Admission:
        return Admission(False, d.phrase, TAKES, why)

    if d.modality is not None and d.modality != "NM":
        return refuse()
    if d.whole_body or d.gated or d.dynamic or d.tomographic:
        return refuse()
    if d.n_frames != 1:
        return refuse(f"with {d.n_frames} frames, not one planar frame")
    if d.binary:
        return refuse()
    if not d.counts_like:
        return refuse("whose values are not whole, non-negative counts")
    if not d.flat_field:
        return refuse(f"not a uniform field ({100 * d.flat_fraction:.0f} % of it lies within 25 % of its median, "
                      f"a flood's 95 % or more)")
    return Admission(True, d.phrase, TAKES)
