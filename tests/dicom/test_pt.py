"""The derived PT series: the source's geometry and SUV tags, new UIDs, DERIVED, Bq/mL that read back as SUVbw."""

from __future__ import annotations

import numpy as np
import pytest

from nmkit.dicom.pt import write_pt_series
from nmkit.dicom.results import ModelIdentity
from nmkit.dicom.source import dicom_sources
from nmkit.errors import InputError
from nmkit.io.pet import read_pet_suv

from .conftest import assert_valid, read

MODEL = ModelIdentity("pet-unet-generator", "nmkit 0", "cd" * 32)


def test_series_reads_back_as_the_predicted_suv_on_the_early_geometry(studies, tmp_path):
    early = read_pet_suv(studies["pet"])
    predicted = early.array * 1.5 + np.linspace(0, 0.5, early.array.size, dtype=np.float32).reshape(early.shape)
    sources = dicom_sources(studies["pet"])[::-1]  # any order: slices are placed along the slice normal
    files = write_pt_series(tmp_path / "delayed", predicted, sources, early.metadata["suv"]["suv_factor"], MODEL)
    back = read_pet_suv(tmp_path / "delayed")
    step = predicted.max(axis=(1, 2), keepdims=True) / 65535
    assert np.all(np.abs(back.array - predicted) <= step * 0.51 + 1e-6)
    assert back.metadata["affine"] == early.metadata["affine"]
    first, source = read(files[0]), read(studies["pet"] / "slice00.dcm")
    assert first.FrameOfReferenceUID == source.FrameOfReferenceUID and first.StudyInstanceUID == source.StudyInstanceUID
    assert first.SeriesInstanceUID != source.SeriesInstanceUID and first.SOPInstanceUID != source.SOPInstanceUID
    assert list(first.ImagePositionPatient) == list(source.ImagePositionPatient) and first.Units == "BQML"
    assert first.ImageType[0] == "DERIVED" and "pet-unet-generator" in first.DerivationDescription
    assert first.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert len({read(f).SeriesInstanceUID for f in files}) == 1
    assert_valid(files[0])


def test_refuses_a_folder_with_files_and_a_slice_count_mismatch(studies, tmp_path):
    sources = dicom_sources(studies["pet"])
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(InputError, match="not an empty folder"):
        write_pt_series(tmp_path / "full", np.zeros((12, 40, 40)), sources, 1.0, MODEL)
    with pytest.raises(InputError, match="12 instance"):
        write_pt_series(tmp_path / "new", np.zeros((5, 40, 40)), sources, 1.0, MODEL)
    assert not (tmp_path / "new").exists()
