"""NM DICOM writer: round trip through nmkit's reader, reproducible bytes, gating tags, refusals."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian, NuclearMedicineImageStorage

from nmkit.io import read_dicom
from nmkit.io.dicom_write import write_nm_dicom

FRAMES = np.random.default_rng(0).poisson(80.0, (6, 16, 20)).astype(np.float32)
GATED = {"heart_rate_bpm": 75, "r_r_ms": 800.0, "n_time_slots": 6, "intervals_acquired": 310}


def test_static_round_trip_through_read_dicom(tmp_path):
    path = write_nm_dicom(tmp_path / "static.dcm", FRAMES, (2.5, 3.0), patient_id="P1", series_description="FLOOD")
    image = read_dicom(path)
    assert image.shape == (6, 16, 20) and image.array.dtype == np.float32
    np.testing.assert_array_equal(image.array, FRAMES)
    assert image.pixel_spacing == (2.5, 3.0) and image.modality == "NM"
    assert image.metadata["image_type"] == ["ORIGINAL", "PRIMARY", "STATIC", "EMISSION"]
    assert image.metadata["detector_ids"] == ["1"] and image.metadata["patient_id"] == "P1"
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == NuclearMedicineImageStorage == ds.file_meta.MediaStorageSOPClassUID
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert (ds.PhotometricInterpretation, ds.BitsAllocated, ds.BitsStored) == ("MONOCHROME2", 16, 16)
    assert ds.NumberOfFrames == 6 and ds.Modality == "NM"
    assert list(ds.FrameIncrementPointer) == [Tag("EnergyWindowVector"), Tag("DetectorVector")]
    assert "GatedInformationSequence" not in ds
    assert [p.name for p in tmp_path.iterdir()] == ["static.dcm"]  # no temporary left behind


def test_counts_are_rounded_and_a_single_frame_is_fine(tmp_path):
    image = read_dicom(write_nm_dicom(tmp_path / "one.dcm", np.array([[0.4, 1.6], [65535.2, 7.0]]), (4.0, 4.0)))
    np.testing.assert_array_equal(image.array, [[[0, 2], [65535, 7]]])


def test_same_input_same_bytes_and_uids_from_content(tmp_path):
    a = write_nm_dicom(tmp_path / "a.dcm", FRAMES, (2.5, 3.0), gated=GATED, patient_id="P1")
    b = write_nm_dicom(tmp_path / "b.dcm", FRAMES, (2.5, 3.0), gated=GATED, patient_id="P1")
    assert a.read_bytes() == b.read_bytes()
    changed = FRAMES.copy()
    changed[0, 0, 0] += 1
    c = pydicom.dcmread(write_nm_dicom(tmp_path / "c.dcm", changed, (2.5, 3.0), gated=GATED, patient_id="P1"))
    d = pydicom.dcmread(write_nm_dicom(tmp_path / "d.dcm", FRAMES, (2.5, 3.0), gated=GATED, patient_id="P2"))
    first = pydicom.dcmread(a)
    assert c.SOPInstanceUID != first.SOPInstanceUID and c.StudyInstanceUID == first.StudyInstanceUID
    assert d.StudyInstanceUID != first.StudyInstanceUID
    assert all(uid.startswith("2.25.") and uid.is_valid for uid in (first.SOPInstanceUID, first.SeriesInstanceUID))


def test_gated_tags(tmp_path):
    path = write_nm_dicom(tmp_path / "gated.dcm", FRAMES, (2.5, 2.5), gated=GATED)
    np.testing.assert_array_equal(read_dicom(path).array, FRAMES)
    ds = pydicom.dcmread(path)
    assert list(ds.ImageType) == ["ORIGINAL", "PRIMARY", "GATED", "EMISSION"]
    assert Tag("TimeSlotVector") in list(ds.FrameIncrementPointer)
    assert list(ds.TimeSlotVector) == [1, 2, 3, 4, 5, 6] and ds.NumberOfTimeSlots == 6
    assert list(ds.RRIntervalVector) == [1] * 6 and ds.NumberOfRRIntervals == 1
    assert ds.HeartRate == 75 and ds.BeatRejectionFlag == "N"
    gate = ds.GatedInformationSequence[0]
    assert float(gate.TriggerTime) == 0.0 and gate.CardiacFramingType == "FORW"
    data = gate.DataInformationSequence[0]
    assert float(data.FrameTime) == pytest.approx(800.0 / 6) and data.NominalInterval == 800
    assert data.IntervalsAcquired == 310 and data.IntervalsRejected == 0
    slots = data.TimeSlotInformationSequence
    assert len(slots) == 6 and all(float(s.TimeSlotTime) == pytest.approx(800.0 / 6) for s in slots)


def test_gated_defaults_and_extra_keywords(tmp_path):
    extra = {"StationName": "GAMMA1", "StudyDate": "20240102", "StudyDescription": "MUGA"}
    ds = pydicom.dcmread(write_nm_dicom(tmp_path / "g.dcm", FRAMES, (2.5, 2.5), gated={"heart_rate_bpm": 60},
                                        extra=extra))
    assert float(ds.GatedInformationSequence[0].DataInformationSequence[0].FrameTime) == pytest.approx(1000 / 6)
    assert (ds.StationName, ds.StudyDate, ds.StudyDescription, ds.SeriesDate) == ("GAMMA1", "20240102", "MUGA",
                                                                                  "20000101")


@pytest.mark.parametrize("frames, spacing, kwargs, match", [
    (FRAMES * 1000, (1, 1), {}, "65535"),
    (-FRAMES, (1, 1), {}, "65535"),
    (np.full((2, 3, 3), np.nan), (1, 1), {}, "NaN"),
    (np.zeros((2, 2, 3, 3)), (1, 1), {}, "shape"),
    (FRAMES, (0, 1), {}, "pixel_spacing"),
    (FRAMES, (1, 1), {"gated": {"heart_rate_bpm": 60, "n_time_slots": 8}}, "n_time_slots"),
    (FRAMES, (1, 1), {"gated": {"r_r_ms": 800}}, "heart_rate_bpm"),
    (FRAMES, (1, 1), {"extra": {"NotAKeyword": 1}}, "NotAKeyword"),
])
def test_refuses_bad_input_and_writes_nothing(tmp_path, frames, spacing, kwargs, match):
    with pytest.raises(ValueError, match=match):
        write_nm_dicom(tmp_path / "bad.dcm", frames, spacing, **kwargs)
    assert list(tmp_path.iterdir()) == []
