"""Knee DJD grades as DICOM: a measurement SR (grade and its probability per knee) and the overlay as SC."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import NuclearMedicineImageStorage

from nmkit.dicom.results import Concept, DicomResults, ModelIdentity, Number, Word
from nmkit.dicom.route import Outcome, Route, image_type
from nmkit.workflows.bonescan.analyse import KneeDJD

TITLE = Concept("NMBONEKNEE", "Bone scan knee DJD grade")


def dicom_results(analysis: KneeDJD, sources: list[Dataset], info: dict[str, Any] | None) -> DicomResults:
    """The SR/SC content of one graded scan (``plot_analyzed_image`` already called for the SC)."""
    r = analysis.results_data()
    numbers, words = [], []
    for knee in r.knees:
        side, letter = knee["side"].capitalize(), knee["side"][0].upper()
        numbers += [Number(Concept(f"{letter}KNEEDJD", f"{side} knee DJD grade"), knee["grade"], "{grade}", "grade"),
                    Number(Concept(f"{letter}KNEEP", f"{side} knee DJD grade probability"),
                           max(knee["probabilities"]), "1", "no units")]
        words.append(Word(Concept(f"{letter}KNEEDJDNAME", f"{side} knee DJD"),
                          Concept(f"DJD{knee['grade']}", knee["grade_name"])))
    return DicomResults(title=TITLE, sources=sources, model=ModelIdentity.from_info(info), numbers=numbers,
                        words=words, figure=r.overlay_png)


def is_whole_body(header: Dataset) -> bool:
    """An NM whole-body scan (ImageType WHOLE BODY)."""
    return header.get("Modality") == "NM" and "WHOLE BODY" in image_type(header)


def node_route(data_dir: Path) -> Route:
    """The node's bonescan entry: a whole-body scan (anterior view first) -> KneeDJD."""
    from nmkit.dicom.source import dicom_sources
    from nmkit.workflows.bonescan.analyse import load_bonescan_model

    model = functools.cache(load_bonescan_model)

    def analyse(files: list[Path], out: Path) -> Outcome:
        net, info = model()
        analysis = KneeDJD(files).analyze(net, info)
        analysis.plot_analyzed_image(out / "knees.png")
        result = analysis.results_data().as_dict() | {"overlay_png": "knees.png"}
        return Outcome(result, dicom_results(analysis, dicom_sources(files), info))

    return Route("bonescan", (NuclearMedicineImageStorage,), is_whole_body, analyse)
