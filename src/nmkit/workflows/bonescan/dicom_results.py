"""Knee DJD grades as DICOM: a measurement SR (grade and its probability per knee) and the overlay as SC."""

from __future__ import annotations

from typing import Any

from pydicom.dataset import Dataset

from nmkit.dicom.results import Concept, DicomResults, ModelIdentity, Number, Word
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
