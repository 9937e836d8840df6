"""The measurement report: a TID 1500 Comprehensive 3D SR of an analysis' numbers and words, built with highdicom.

One measurement group holds every number (a TID 300 measurement with its UCUM unit) and word (a qualitative
evaluation), the source images it was measured on, and the model as TID 4019 algorithm identification: its
registry name, nmkit's version, and ``sha256=<hex>`` of the bundle file as a parameter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from nmkit.dicom.results import PRIVATE_SCHEME, DicomResults, content_key, quiet, save
from nmkit.dicom.seg import coded
from nmkit.io.dicom_write import derived_uid

SERIES_NUMBER = 902
SHA256_PREFIX = "sha256="


def algorithm(results: DicomResults) -> hd.sr.AlgorithmIdentification:
    return hd.sr.AlgorithmIdentification(name=results.model.name, version=results.model.version,
                                         parameters=[f"{SHA256_PREFIX}{results.model.sha256}"])


def build_measurement_report(results: DicomResults) -> hd.sr.Comprehensive3DSR:
    """The SR of ``results``, in the first source's study, with every source instance as evidence."""
    key = content_key(results, "sr")
    source_images = [hd.sr.SourceImageForMeasurementGroup.from_source_image(ds) for ds in results.sources]
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=derived_uid("tracking", *key),
                                                     identifier=results.title.meaning[:64]),
        algorithm_id=algorithm(results), source_images=source_images,
        measurements=[hd.sr.Measurement(name=coded(n.concept), value=float(n.value),
                                        unit=hd.sr.CodedConcept(n.unit, "UCUM", n.unit_meaning or n.unit))
                      for n in results.numbers] or None,
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(name=coded(w.concept), value=coded(w.value))
                                 for w in results.words] or None)
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=derived_uid("device", results.model.sha256), name="nmkit", manufacturer_name="nmkit",
            model_name=results.model.name, serial_number=results.model.sha256[:64]))
    report = hd.sr.MeasurementReport(observation_context=hd.sr.ObservationContext(observer_device_context=device),
                                     procedure_reported=coded(results.title), imaging_measurements=[group])
    with quiet():
        sr = hd.sr.Comprehensive3DSR(
            evidence=results.sources, content=report[0], series_instance_uid=derived_uid("series", *key),
            series_number=SERIES_NUMBER, sop_instance_uid=derived_uid("sop", *key), instance_number=1,
            manufacturer="nmkit", is_complete=True, series_description=f"nmkit SR {results.title.meaning}"[:64])
    scheme = Dataset()
    scheme.CodingSchemeDesignator, scheme.CodingSchemeName = PRIVATE_SCHEME, "nmkit concepts"
    scheme.CodingSchemeResponsibleOrganization = "nmkit"
    sr.CodingSchemeIdentificationSequence = [scheme]
    return sr


def write_measurement_report(results: DicomResults, path: str | Path) -> Path:
    """Build the SR of ``results`` and write it to ``path`` atomically."""
    return save(build_measurement_report(results), path)


def read_measurements(sr: Dataset) -> dict[str, Any]:
    """The numbers and words of an nmkit SR keyed by concept meaning, and ``model`` (name, version, sha256)."""
    values: dict[str, Any] = {}
    model: dict[str, str] = {}

    def walk(items: Any) -> None:
        for item in items or []:
            name = item.ConceptNameCodeSequence[0].CodeMeaning if "ConceptNameCodeSequence" in item else ""
            kind = item.get("ValueType")
            if kind == "NUM":
                values[name] = float(item.MeasuredValueSequence[0].NumericValue)
            elif kind == "CODE" and name not in ("Procedure reported", "Observer Type", "Language of Content Item and Descendants"):
                values[name] = item.ConceptCodeSequence[0].CodeMeaning
            elif kind == "TEXT" and name in ("Algorithm Name", "Algorithm Version"):
                model["name" if name == "Algorithm Name" else "version"] = item.TextValue
            elif kind == "TEXT" and name == "Algorithm Parameters" and item.TextValue.startswith(SHA256_PREFIX):
                model["sha256"] = item.TextValue[len(SHA256_PREFIX):]
            walk(item.get("ContentSequence"))

    walk(sr.ContentSequence)
    return values | {"model": model}

