"""PET DICOM -> SUVbw: the real TCIA slices, a synthetic series, every missing tag, NIfTI writing."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pydicom
import pytest
from typer.testing import CliRunner

from nmkit.cli import app
from nmkit.errors import InputError
from nmkit.io import read_nifti
from nmkit.io.pet import read_pet_suv, write_suv_nifti

runner = CliRunner()


@pytest.fixture
def slice_1(shared_data):
    return shared_data / "pet" / "PT_slice_1.dcm"


def _copy(source, path, **changes):
    ds = pydicom.dcmread(source)
    for keyword, value in changes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(path)
    return path


def test_real_slice_1_suv_factor_and_values(slice_1):
    image = read_pet_suv(slice_1)
    # 69.7344 kg, 178340011.59668 Bq, injected 14:17:00, series 15:23:16.921 (3976.921 s), T1/2 6586.2 s
    expected = 69734.4 / (178340011.59668 * 2 ** (-3976.921 / 6586.2))
    raw = pydicom.dcmread(slice_1).pixel_array.astype(np.float64) * 9.12329
    assert image.metadata["suv"]["suv_factor"] == pytest.approx(expected, rel=1e-12)
    assert image.metadata["suv"]["delay_s"] == pytest.approx(3976.921)
    assert image.array.max() == pytest.approx(raw.max() * expected, rel=1e-6)
    assert image.array.max() == pytest.approx(7.1943, abs=1e-4)
    assert image.shape == (1, 168, 168) and image.modality == "PT"
    assert image.pixel_spacing == (4.07283, 4.07283)


def test_real_slice_2_series_starts_at_injection(shared_data):
    image = read_pet_suv(shared_data / "pet" / "PT_slice_2.dcm")
    suv = image.metadata["suv"]
    assert suv["delay_s"] == pytest.approx(0.109)
    assert suv["suv_factor"] == pytest.approx(82174.0 / (173529998.7793 * 2 ** (-0.109 / 6586.2)), rel=1e-12)
    assert image.array.max() == pytest.approx(6.1559, abs=1e-4)


def test_two_series_are_refused(shared_data):
    with pytest.raises(InputError, match="2 PET series"):
        read_pet_suv(sorted((shared_data / "pet").glob("PT_slice_*.dcm")))


def test_series_folder_sorted_by_position_with_per_slice_rescale(slice_1, tmp_path):
    ds = pydicom.dcmread(slice_1)
    folder = tmp_path / "series"
    folder.mkdir()
    for name, z, slope, value in (("a.dcm", 10.0, 2.0, 3), ("b.dcm", -10.0, 0.5, 7), ("c.dcm", 0.0, 1.0, 5)):
        ds.PixelData = np.full((168, 168), value, dtype=np.int16).tobytes()
        ds.ImagePositionPatient = [0.0, 0.0, z]
        ds.RescaleSlope = slope
        ds.save_as(folder / name)
    image = read_pet_suv(folder)
    factor = image.metadata["suv"]["suv_factor"]
    assert image.shape == (3, 168, 168)
    assert image.array[:, 0, 0] == pytest.approx(np.array([3.5, 5.0, 6.0]) * factor, rel=1e-6)
    assert image.slice_spacing == 10.0


def test_series_affine_places_voxels_in_patient_space(slice_1, tmp_path):
    ds = pydicom.dcmread(slice_1)
    ds.PixelSpacing, ds.ImageOrientationPatient = [2.0, 3.0], [1, 0, 0, 0, 1, 0]
    folder = tmp_path / "series"
    folder.mkdir()
    for name, z in (("a.dcm", -95.0), ("b.dcm", -100.0), ("c.dcm", -90.0)):
        ds.ImagePositionPatient = [-250.0, -240.0, z]
        ds.save_as(folder / name)
    image = read_pet_suv(folder)
    affine = np.asarray(image.metadata["affine"])
    # voxel (column i, row j, slice k) -> LPS (-250 + 3 i, -240 + 2 j, -100 + 5 k) -> RAS flips x and y
    assert affine @ [0, 0, 0, 1] == pytest.approx([250.0, 240.0, -100.0, 1.0])
    assert affine @ [10, 20, 2, 1] == pytest.approx([250.0 - 30.0, 240.0 - 40.0, -90.0, 1.0])
    out = write_suv_nifti(tmp_path / "out.nii.gz", image.array, affine=affine)
    assert np.allclose(nib.load(out).affine, affine)


def test_admin_decay_correction_needs_no_decay(slice_1, tmp_path):
    image = read_pet_suv(_copy(slice_1, tmp_path / "admin.dcm", DecayCorrection="ADMIN"))
    assert image.metadata["suv"]["decay_factor"] == 1.0
    assert image.metadata["suv"]["suv_factor"] == pytest.approx(69734.4 / 178340011.59668, rel=1e-12)


@pytest.mark.parametrize("changes, message", [
    ({"PatientWeight": None}, "PatientWeight"),
    ({"PatientWeight": 0}, "PatientWeight"),
    ({"Units": "CNTS"}, "Units CNTS"),
    ({"Units": None}, "Units missing"),
    ({"DecayCorrection": "NONE"}, "DecayCorrection NONE"),
    ({"Modality": "NM"}, "not a PET image"),
    ({"SeriesTime": None, "AcquisitionTime": None}, "SeriesTime"),
    ({"RadiopharmaceuticalInformationSequence": None}, "RadiopharmaceuticalInformationSequence"),
])
def test_missing_or_bad_tags_name_file_and_tag(slice_1, tmp_path, changes, message):
    path = _copy(slice_1, tmp_path / "bad.dcm", **changes)
    with pytest.raises(InputError, match=message) as err:
        read_pet_suv(path)
    assert "bad.dcm" in str(err.value)


def test_missing_dose_and_injection_after_scan(slice_1, tmp_path):
    ds = pydicom.dcmread(slice_1)
    del ds.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose
    ds.save_as(tmp_path / "nodose.dcm")
    with pytest.raises(InputError, match="RadionuclideTotalDose"):
        read_pet_suv(tmp_path / "nodose.dcm")
    ds = pydicom.dcmread(slice_1)
    ds.RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartTime = "160000"
    ds.save_as(tmp_path / "late.dcm")
    with pytest.raises(InputError, match="after the series start"):
        read_pet_suv(tmp_path / "late.dcm")


def test_empty_volume_is_refused(slice_1, tmp_path):
    ds = pydicom.dcmread(slice_1)
    ds.PixelData = np.zeros((168, 168), dtype=np.int16).tobytes()
    ds.save_as(tmp_path / "zero.dcm")
    with pytest.raises(InputError, match="empty"):
        read_pet_suv(tmp_path / "zero.dcm")


def test_cli_suv_json(slice_1):
    result = runner.invoke(app, ["pet", "suv", str(slice_1), "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout.splitlines()[0])
    assert row["suv_factor"] == pytest.approx(5.942485308e-4, rel=1e-9)
    assert row["suv_max"] == pytest.approx(7.1943, abs=1e-4)
    assert set(row) >= {"suv_factor", "suv_max", "suv_mean"}


def test_cli_suv_missing_tag_exits_2(slice_1, tmp_path):
    result = runner.invoke(app, ["pet", "suv", str(_copy(slice_1, tmp_path / "x.dcm", PatientWeight=None))])
    assert result.exit_code == 2
    assert "PatientWeight" in result.output


def test_write_suv_nifti_round_trip_and_same_bytes(tmp_path):
    volume = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    a = write_suv_nifti(tmp_path / "a.nii.gz", volume, (5.0, 2.0, 3.0))
    b = write_suv_nifti(tmp_path / "b.nii.gz", volume, (5.0, 2.0, 3.0))
    assert a.read_bytes() == b.read_bytes()
    image = read_nifti(a)
    assert np.array_equal(image.array, volume)
    assert image.pixel_spacing == (2.0, 3.0) and image.slice_spacing == 5.0 and image.modality == "PT"
    affine = np.diag([3.0, 2.0, 5.0, 1.0])
    affine[:3, 3] = (1, 2, 3)
    write_suv_nifti(tmp_path / "c.nii", volume, affine=affine)
    assert np.array_equal(nib.load(tmp_path / "c.nii").affine, affine)
    assert not list(tmp_path.glob(".*part"))
