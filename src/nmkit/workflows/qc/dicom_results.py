"""QC results as DICOM: uniformity and the AI verdict in a measurement SR, the cold region as a SEG, the map as SC."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import NuclearMedicineImageStorage

from nmkit.dicom.results import Concept, DicomResults, ModelIdentity, Number, Segment, Word
from nmkit.dicom.route import Outcome, Route, image_type
from nmkit.errors import InputError
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
                        segments=[segment], figure=r.map_png)


def is_flood(header: Dataset) -> bool:
    """A single-frame NM image that is neither gated nor a whole-body scan."""
    kinds = image_type(header)
    return (header.get("Modality") == "NM" and int(header.get("NumberOfFrames") or 1) == 1
            and "GATED" not in kinds and "WHOLE BODY" not in kinds)


def node_route(data_dir: Path) -> Route:
    """The node's qc entry: a flood series (one instance) -> FloodQC, recorded in the QC history of ``data_dir``."""
    from nmkit.dicom.source import dicom_sources
    from nmkit.workflows.qc.analyse import load_qc_model
    from nmkit.workflows.qc.history import FloodHistory, database_url

    model = functools.cache(load_qc_model)
    history = functools.cache(lambda: FloodHistory(database_url(data_dir)))

    def analyse(files: list[Path], out: Path) -> Outcome:
        if len(files) != 1:
            raise InputError(files[0].parent, f"holds {len(files)} flood instances; send each flood as its own series")
        net, info = model()
        qc = FloodQC(files[0]).analyze(net, info)
        qc.plot_analyzed_image(out / "flood.qc.png")
        result = qc.results_data().as_dict() | {"map_png": "flood.qc.png"}
        result["history_id"] = history().record(result, qc.image.metadata, files[0])
        return Outcome(result, dicom_results(qc, dicom_sources(files[0]), info))

    return Route("qc", (NuclearMedicineImageStorage,), is_flood, analyse)
