"""Small DICOM studies for every workflow, made in temporary folders, and the dciodvfy check."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, PositronEmissionTomographyImageStorage

from nmkit.io.dicom_write import derived_uid, write_nm_dicom
from nmkit.io.dx_write import write_dx_dicom

PATIENT = "DOE^JANE"  # a two-part name, as DICOM wants (a one-word name draws a PN warning)
TOLERATED = {
    "Unrecognized defined term <99NMKIT>": "nmkit's private coding scheme, declared in CodingSchemeIdentification",
    "attribute <Laterality>": "a figure's Secondary Capture, a flood or a point source shows no body part; the "
                              "empty value says unknown",
    **{f"IOD - {tag}": "dciodvfy applies the NM Multi-gated Acquisition module only to TOMO image types (its "
                       "condition omits planar GATED, which the standard includes), so a gated study's gating "
                       "attributes read as extra" for tag in (
        "(0x0018,0x1060)", "(0x0018,0x1062)", "(0x0018,0x1063)", "(0x0018,0x1064)", "(0x0018,0x1080)",
        "(0x0018,0x1083)", "(0x0018,0x1084)", "(0x0018,0x1088)", "(0x0054,0x0062)", "(0x0054,0x0063)",
        "(0x0054,0x0072)", "(0x0054,0x0073)")},
    "IOD - (0x0018,0x700a) SH Detector ID": "the camera phantoms name their heads in DetectorInformationSequence as "
                                            "vendors' files do, so nmkit's reader is tested on that form",
    "this is a Standard Extended SOP Class": "the summary line of the extra attributes above",
}


def dciodvfy_problems(path: Path) -> list[str]:
    """dciodvfy's Error lines and every warning not in TOLERATED (each tolerated one has its reason there)."""
    tool = shutil.which("dciodvfy")
    if tool is None:
        pytest.skip("dciodvfy (Debian's dicom3tools) is not installed, so DICOM objects cannot be validated")
    run = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
    lines = (run.stdout + run.stderr).splitlines()
    return [line for line in lines if line.startswith("Error")
            or (line.startswith("Warning") and not any(key in line for key in TOLERATED))]


def flood_dicom(folder: Path, name: str = "flood.dcm", seed: int = 0, counts: float = 300.0) -> Path:
    rng = np.random.default_rng(seed)
    return write_nm_dicom(folder / name, rng.poisson(counts, (1, 64, 64)), (6.0, 6.0), patient_id=PATIENT,
                          series_description=f"FLOOD {seed}")


def gated_dicom(folder: Path, name: str = "gated.dcm", frames: int = 8, shift: int = 0) -> Path:
    """A gated study of a beating disc over a flat background (8 frames of 64x64, 6 mm pixels)."""
    phase = np.cos(2 * np.pi * np.arange(frames) / frames)
    radius = 8 + 4 * (phase + 1) / 2
    rows, cols = np.indices((64, 64))
    masks = np.stack([(rows - 30) ** 2 + (cols - 30 - shift) ** 2 <= r ** 2 for r in radius])
    study = np.random.default_rng(shift).poisson(20 + 200 * masks)
    return write_nm_dicom(folder / name, study, (6.0, 6.0), gated={"heart_rate_bpm": 70}, patient_id=PATIENT,
                          series_description=f"GATED {shift}")


def chest_dicom(folder: Path) -> Path:
    from nmkit.phantoms.chest import ChestSpec, generate_chest_xray

    xray = generate_chest_xray(dataclasses.replace(ChestSpec(), shape=(128, 128)), seed=1)
    return write_dx_dicom(folder / "chest.dcm", xray.pixels, xray.pixel_mm, patient_id=PATIENT)


def bone_dicom(folder: Path) -> Path:
    from nmkit.phantoms.bone import BoneSpec, generate_bone_scan

    return write_nm_dicom(folder / "wb.dcm", generate_bone_scan(BoneSpec(), 2, 0).views, (2.26, 2.26),
                          patient_id=PATIENT, series_description="WHOLE BODY",
                          extra={"ImageType": ["ORIGINAL", "PRIMARY", "WHOLE BODY", "EMISSION"]})


def pet_series(folder: Path, slices: int = 12, size: int = 40) -> Path:
    """An early FDG PT series with full SUV tags: a body ellipse (SUV 1) with a hot sphere (SUV 6), SUV factor
    70 000 g / (370 MBq x decay of 600 s)."""
    folder.mkdir(parents=True, exist_ok=True)
    z, y, x = np.indices((slices, size, size))
    suv = 1.0 * (((y - size / 2) / (size * 0.35)) ** 2 + ((x - size / 2) / (size * 0.45)) ** 2 <= 1)
    suv += 5.0 * ((z - slices / 2) ** 2 + (y - size / 2) ** 2 + (x - size / 2) ** 2 <= 9)
    dose, half_life = 370e6, 6586.2
    factor = 70_000 / (dose * 2 ** (-600 / half_life))
    study, series, frame = (derived_uid("pt", kind) for kind in ("study", "series", "frame"))
    for i in range(slices):
        bq = suv[i] / factor
        slope = max(float(bq.max()), 1.0) / 32000
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = PositronEmissionTomographyImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = derived_uid("pt", "sop", str(i))
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = PATIENT, "PT1", "", "F"
        ds.PatientWeight = "70"
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = "20240101"
        ds.StudyTime, ds.SeriesTime, ds.AcquisitionTime, ds.ContentTime = "101000", "101000", "101000", "101000"
        ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "", ""
        ds.Modality, ds.Manufacturer, ds.SeriesNumber, ds.InstanceNumber = "PT", "nmkit", 1, i + 1
        ds.SeriesDescription, ds.PositionReferenceIndicator = "PET EARLY", ""
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.Units, ds.DecayCorrection, ds.CorrectedImage = "BQML", "START", ["ATTN", "DECY"]
        ds.SeriesType, ds.CountsSource, ds.Laterality = ["STATIC", "IMAGE"], "EMISSION", ""
        ds.PatientOrientationCodeSequence = []
        ds.NumberOfSlices, ds.ImageIndex, ds.FrameReferenceTime = slices, i + 1, "0"
        ds.ActualFrameDuration, ds.DecayFactor = 120000, "1.0"
        ds.CollimatorType, ds.PatientOrientation = "NONE", ""
        drug = Dataset()
        drug.RadiopharmaceuticalStartTime, drug.RadionuclideTotalDose = "100000", str(dose)
        drug.RadionuclideHalfLife, drug.RadionuclidePositronFraction = str(half_life), "0.97"
        drug.RadionuclideCodeSequence = []
        ds.RadiopharmaceuticalInformationSequence = [drug]
        ds.PatientGantryRelationshipCodeSequence = []
        ds.ImagePositionPatient = [-200.0, -200.0, -100.0 + 10.0 * i]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness, ds.SliceLocation = [10.0, 10.0], "10", str(-100 + 10 * i)
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope:.8g}", "0"
        ds.PixelData = np.rint(bq / float(f"{slope:.8g}")).astype("<u2").tobytes()
        ds.save_as(folder / f"slice{i:02d}.dcm", enforce_file_format=True)
    return folder


def read(path: Path) -> Dataset:
    return pydicom.dcmread(path)


def assert_valid(path: Path) -> None:
    """dciodvfy finds no error and no warning beyond TOLERATED in ``path``."""
    assert dciodvfy_problems(path) == [], path


def results_of(sources: list[Dataset], figure: Path | None = None, masks: np.ndarray | None = None):
    """A small DicomResults on ``sources``: two numbers, a word, a mask per source frame, a figure."""
    from nmkit.dicom.results import Concept, DicomResults, ModelIdentity, Number, Segment, Word

    segments = [] if masks is None else [Segment("LV ROI", masks, Concept("91723000", "Anatomical Structure", "SCT"),
                                                 Concept("87878005", "Left ventricle", "SCT"))]
    return DicomResults(title=Concept("TEST", "nmkit test"), sources=sources,
                        model=ModelIdentity("test-model", "nmkit 0", "ab" * 32),
                        numbers=[Number(Concept("10230-1", "Left ventricular Ejection fraction", "LN"), 55.25, "%"),
                                 Number(Concept("ESFRAME", "End-systolic frame"), 4, "{frame}")],
                        words=[Word(Concept("QCVERDICT", "QC verdict"), Concept("PASS", "pass"))],
                        segments=segments, figure=figure)


@pytest.fixture(scope="session")
def studies(tmp_path_factory) -> dict[str, Path]:
    """One small DICOM study per workflow, made once."""
    folder = tmp_path_factory.mktemp("studies")
    return {"flood": flood_dicom(folder), "gated": gated_dicom(folder), "chest": chest_dicom(folder),
            "bone": bone_dicom(folder), "pet": pet_series(folder / "pet")}


@pytest.fixture(scope="session")
def cli_results(studies, tmp_path_factory) -> dict[str, dict]:
    """`qc check` and `gbp ef` JSON (with --dicom-out) of the flood and the gated study, run once."""
    import json

    from typer.testing import CliRunner

    from nmkit.cli import app

    out = tmp_path_factory.mktemp("cli")
    found = {}
    for key, command in (("flood", ["qc", "check"]), ("gated", ["gbp", "ef"])):
        run = CliRunner().invoke(app, [*command, str(studies[key]), "--out", str(out / key), "--dicom-out",
                                       str(out / "dicom"), "--json"])
        assert run.exit_code == 0, run.output
        found[key] = json.loads(run.stdout.strip().splitlines()[-1])
    return found
