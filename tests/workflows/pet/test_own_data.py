"""A hospital-style pet folder (a PT DICOM series folder with a licence text in it, delayed scans of another
extent shifted a few mm, NIfTI pairs) through dataset check, one training epoch and evaluate."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from scipy import ndimage

from nmkit.io.pet import write_suv_nifti
from nmkit.phantoms.fdg import FDGSpec, generate_fdg_patients

CONFIG = {"workflow": "pet", "seed": 0, "model": {"name": "pet-unet-generator", "base": 4, "depth": 3},
          "gan": {"discriminator": {"base": 4, "layers": 2}},
          "data": {"size": 32, "batch_size": 8}, "trainer": {"max_epochs": 1, "progress_bar": False}}
DOSE, WEIGHT = 300e6, 70.0


def write_pt_series(folder, suv, spacing, origin_z):
    """A PT series of axial slices (Bq/mL, int16 with a slope), injection at the series start."""
    folder.mkdir(parents=True)
    bqml = suv * DOSE / (WEIGHT * 1000.0)
    slope = float(bqml.max()) / 30000 or 1.0
    series = generate_uid()
    for z, plane in enumerate(bqml):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.128"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
        ds.Modality, ds.Units, ds.DecayCorrection, ds.PatientWeight = "PT", "BQML", "START", WEIGHT
        ds.SeriesInstanceUID, ds.SeriesDate, ds.SeriesTime, ds.InstanceNumber = series, "20240101", "100000", z + 1
        drug = Dataset()
        drug.RadionuclideTotalDose, drug.RadionuclideHalfLife, drug.RadiopharmaceuticalStartTime = DOSE, 6586.2, "100000"
        ds.RadiopharmaceuticalInformationSequence = [drug]
        ds.ImagePositionPatient = [-100.0, -100.0, origin_z + z * spacing[0]]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [spacing[1], spacing[2]], spacing[0]
        ds.Rows, ds.Columns = plane.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = slope, 0
        ds.PixelData = np.round(plane / slope).astype(np.int16).tobytes()
        ds.save_as(folder / f"{z:03d}.dcm", enforce_file_format=True)


@pytest.fixture(scope="module")
def hospital(tmp_path_factory):
    root = tmp_path_factory.mktemp("pet-own")
    spec = dataclasses.replace(FDGSpec(), size=32, pixel_mm=14.0, slices=12, slice_mm=20.0, max_lesions=1)
    lines = ["early,delayed,patient_id,split"]
    for i, (patient, split) in enumerate(zip(generate_fdg_patients(spec, 4, 2), ["train", "train", "val", "test"])):
        # the delayed scan: 2 slices shorter, its patient 6 mm further along x
        delayed = ndimage.shift(patient.delayed, (0, 0, 6.0 / spec.pixel_mm), order=1)[1:-1]
        spacing = (spec.slice_mm, spec.pixel_mm, spec.pixel_mm)
        if i == 0:
            write_pt_series(root / "p0" / "early", patient.early, spacing, 0.0)
            write_pt_series(root / "p0" / "delayed", delayed, spacing, spec.slice_mm)
            (root / "p0" / "early" / "LICENSE.txt").write_text("licence text, as real exports carry")
            lines.append(f"p0/early,p0/delayed,P0,{split}")
            continue
        write_suv_nifti(root / f"p{i}_early.nii.gz", patient.early, spacing)
        affine = np.diag([spec.pixel_mm, spec.pixel_mm, spec.slice_mm, 1.0])
        affine[2, 3] = spec.slice_mm
        write_suv_nifti(root / f"p{i}_delayed.nii.gz", delayed, affine=affine)
        lines.append(f"p{i}_early.nii.gz,p{i}_delayed.nii.gz,P{i},{split}")
    (root / "dataset.csv").write_text("\n".join(lines) + "\n")
    return root


def test_check_train_evaluate(hospital, own_data_roundtrip):
    report, scored, _ = own_data_roundtrip("pet", hospital, CONFIG)
    assert report["ok"] and any("LICENSE.txt" in p["message"] and p["line"] == 2 for p in report["problems"])
    assert scored["n_test_patients"] == 1 and scored["rows"] == "test"
    assert scored["registration_residual_mm"][0] < 5.0 and "lesion_suvmax_error_median" not in scored


def test_registration_finds_the_shift(hospital):
    from nmkit.datasets import read_table
    from nmkit.workflows.pet.data import DATASET, own_pair

    row = read_table(hospital, DATASET).rows[1]
    pair, report = own_pair(row, size=32)
    assert pair.early.shape == pair.delayed.shape == (12, 32, 32)
    # 14 mm voxels, 20 mm slices: the 6 mm shift is found to within a fraction of a voxel
    assert report["offset_before_mm"] > 4.0 and report["residual_mm"] < 0.5 * report["offset_before_mm"]
    assert abs(abs(report["translation_mm"][0]) - 6.0) < 3.0
