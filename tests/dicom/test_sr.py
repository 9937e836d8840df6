"""The TID 1500 measurement SR: numbers, words and the model read back; the study and evidence kept; valid."""

from __future__ import annotations

from nmkit.dicom.source import dicom_sources
from nmkit.dicom.sr import read_measurements, write_measurement_report

from .conftest import assert_valid, read, results_of


def test_numbers_words_model_and_references_read_back(studies, tmp_path):
    sources = dicom_sources(studies["gated"])
    path = write_measurement_report(results_of(sources), tmp_path / "r.sr.dcm")
    sr = read(path)
    assert read_measurements(sr) == {"Left ventricular Ejection fraction": 55.25, "End-systolic frame": 4.0,
                                     "QC verdict": "pass",
                                     "model": {"name": "test-model", "version": "nmkit 0", "sha256": "ab" * 32}}
    assert sr.StudyInstanceUID == sources[0].StudyInstanceUID and sr.PatientID == sources[0].PatientID
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == sources[0].SOPInstanceUID
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert_valid(path)
