"""QC results as DICOM: uniformity and the AI verdict in a measurement SR, the cold region as a SEG, the map as SC."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from nmkit.dicom.results import Concept, DicomResults, ModelIdentity, Number, Segment, Word
from nmkit.workflows.qc.analyse import FloodQC

TITLE = Concept("NMFLOODQC", "Gamma camera flood uniformity QC")
COLD_REGION_SIGMA = 3.0
"""The defect region: where the matched filter's cold-region significance reaches 3 sigma (the map's threshold)."""


def dicom_results(qc: FloodQC, sources: list[Dataset], info: dict[str, Any] | None) -> DicomResults:
    """The SEG/SR/SC content of one analysed flood (``plot_analyzed_image`` already called for the SC)."""
    r = qc.results_data()
    numbers = [Number(Concept(code, meaning), value, "%", "percent") for code, meaning, value in (
        ("UFOVIU", "UFOV integral uniformity", r.ufov_iu), ("UFOVDU", "UFOV differential uniformity", r.ufov_du),
        ("CFOVIU", "CFOV integral uniformity", r.cfov_iu), ("CFOVDU", "CFOV differential uniformity", r.cfov_du))]
    numbers += [Number(Concept("DEFECTP", "AI defect probability"), r.defect_probability, "1", "no units"),
                Number(Concept("COLDSIGMA", "Cold region significance"), r.defect_significance, "1", "no units")]
    region = np.nan_to_num(qc.significance, nan=0.0) >= COLD_REGION_SIGMA
    segment = Segment("Cold region", region[None], Concept("260787004", "Physical object", "SCT"),
                      Concept("COLDREGION", "Flood cold region"))
    return DicomResults(title=TITLE, sources=sources, model=ModelIdentity.from_info(info), numbers=numbers,
                        words=[Word(Concept("QCVERDICT", "QC verdict"), Concept(r.verdict.upper(), r.verdict))],
                        segments=[segment], figure=None if r.map_png is None else r.map_png)
