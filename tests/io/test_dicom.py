"""DICOM reader: synthetic NM files made in tmp_path, pydicom's compressed test files, the real floods and PET."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import get_decoder
from pydicom.uid import (
    UID, ExplicitVRLittleEndian, HTJ2KLossless, JPEG2000, JPEGBaseline8Bit, JPEGLosslessSV1, JPEGLSLossless,
    MPEG2MPML, NuclearMedicineImageStorage, RLELossless, generate_uid,
)

from nmkit.errors import InputError
from nmkit.io import load_image, read_dicom, read_dicom_dataset

PIXELS = np.arange(48, dtype=np.uint16).reshape(8, 6) * 7


def nm_dataset(pixels: np.ndarray = PIXELS, **tags) -> Dataset:
    """A small NM image dataset (uint16, MONOCHROME2), one frame per leading index of a 3-D ``pixels``."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = NuclearMedicineImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = NuclearMedicineImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.Manufacturer, ds.StationName = "NM", "ACME", "GAMMA1"
    ds.DeviceSerialNumber, ds.PatientID, ds.SeriesDescription = "SN-42", "QC_FLOOD", "FLOOD INTRINSIC"
    ds.AcquisitionDate, ds.AcquisitionTime = "20240102", "081530"
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = int(pixels.dtype.kind == "i")
    if pixels.ndim == 3:
        ds.NumberOfFrames = pixels.shape[0]
    ds.PixelSpacing = [2.5, 3.0]
    for keyword, value in tags.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.PixelData = pixels.tobytes()
    return ds


def write(ds: Dataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def pydicom_file(name: str) -> str:
    """A pydicom test file that is installed locally (never downloaded)."""
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"pydicom test file {name} is not installed (pydicom-data missing)")
    return path


def require_decoder(syntax: UID) -> None:
    decoder = get_decoder(syntax)
    if not decoder.is_available:
        pytest.skip(f"no decoder plugin for {syntax.name}: {'; '.join(decoder.missing_dependencies)}")


def test_single_frame_nm_pixels_spacing_and_metadata(tmp_path):
    image = read_dicom(write(nm_dataset(DetectorVector=[2]), tmp_path / "flood.dcm"))
    assert image.shape == (1, 8, 6)
    np.testing.assert_array_equal(image.array[0], PIXELS.astype(np.float32))
    assert image.array.dtype == np.float32
    assert image.pixel_spacing == (2.5, 3.0)
    assert image.modality == "NM"
    assert image.slice_spacing is None
    meta = image.metadata
    assert meta["spacing_known"] is True and meta["spacing_source"] == "PixelSpacing"
    assert (meta["manufacturer"], meta["station_name"], meta["device_serial_number"]) == ("ACME", "GAMMA1", "SN-42")
    assert (meta["acquisition_date"], meta["acquisition_time"]) == ("20240102", "081530")
    assert (meta["patient_id"], meta["series_description"]) == ("QC_FLOOD", "FLOOD INTRINSIC")
    assert meta["detector_ids"] == ["2"]
    assert meta["n_frames"] == 1
    assert meta["transfer_syntax"] == ExplicitVRLittleEndian
    assert meta["photometric_interpretation"] == "MONOCHROME2"
    assert "dataset" not in meta
    assert json.loads(json.dumps(meta)) == meta


def test_multi_frame_nm_keeps_frame_order(tmp_path):
    frames = np.stack([PIXELS, PIXELS + 1000, PIXELS + 2000]).astype(np.uint16)
    image = read_dicom(write(nm_dataset(frames, DetectorVector=[1, 2, 1]), tmp_path / "dynamic.dcm"))
    assert image.shape == (3, 8, 6)
    np.testing.assert_array_equal(image.array, frames.astype(np.float32))
    assert image.metadata["n_frames"] == 3
    assert image.metadata["detector_ids"] == ["1", "2"]


def test_detector_ids_come_from_detector_information_sequence(tmp_path):
    heads = []
    for name in ("HEAD-A", "HEAD-B"):
        item = Dataset()
        item.DetectorID = name
        heads.append(item)
    image = read_dicom(write(nm_dataset(DetectorInformationSequence=heads), tmp_path / "a.dcm"))
    assert image.metadata["detector_ids"] == ["HEAD-A", "HEAD-B"]


def test_gated_blood_pool_timing_tags(tmp_path):
    slot = Dataset()
    slot.TimeSlotTime = 850.0
    frames = np.stack([PIXELS + 100 * k for k in range(4)]).astype(np.uint16)
    ds = nm_dataset(frames, ImageType=["ORIGINAL", "PRIMARY", "GATED", "EMISSION"], HeartRate=70, FrameTime=53.125,
                    NominalInterval=857, NumberOfTimeSlots=4, TimeSlotInformationSequence=[slot],
                    FrameIncrementPointer=[0x00540070])  # (0054,0070) TimeSlotVector
    meta = read_dicom(write(ds, tmp_path / "muga.dcm")).metadata
    assert (meta["heart_rate_bpm"], meta["frame_time_ms"], meta["nominal_interval_ms"]) == (70.0, 53.125, 857.0)
    assert (meta["n_time_slots"], meta["time_slot_time_ms"]) == (4, 850.0)
    assert meta["frame_increment_pointer"] == ["TimeSlotVector"]
    assert meta["gated"] is True
    assert json.loads(json.dumps(meta)) == meta


def test_gated_from_frame_increment_pointer_alone(tmp_path):
    ds = nm_dataset(np.stack([PIXELS, PIXELS]), FrameIncrementPointer=[0x00540010, 0x00540070])
    meta = read_dicom(write(ds, tmp_path / "g.dcm")).metadata
    assert meta["frame_increment_pointer"] == ["EnergyWindowVector", "TimeSlotVector"]
    assert meta["gated"] is True


def test_ungated_file_has_no_timing(tmp_path):
    meta = read_dicom(write(nm_dataset(ImageType=["ORIGINAL", "PRIMARY", "STATIC"]), tmp_path / "s.dcm")).metadata
    assert [meta[k] for k in ("heart_rate_bpm", "frame_time_ms", "nominal_interval_ms", "n_time_slots",
                              "time_slot_time_ms", "frame_increment_pointer")] == [None] * 6
    assert meta["gated"] is False


def test_rescale_slope_and_intercept_are_applied(tmp_path):
    image = read_dicom(write(nm_dataset(RescaleSlope=0.5, RescaleIntercept=-10), tmp_path / "scaled.dcm"))
    np.testing.assert_array_equal(image.array[0], PIXELS * 0.5 - 10)
    assert (image.metadata["rescale_slope"], image.metadata["rescale_intercept"]) == (0.5, -10.0)


def test_signed_pixels_keep_their_sign(tmp_path):
    signed = (PIXELS.astype(np.int16) - 100)
    image = read_dicom(write(nm_dataset(signed), tmp_path / "signed.dcm"))
    np.testing.assert_array_equal(image.array[0], signed)


def test_spacing_from_detector_information_sequence_when_top_level_missing(tmp_path):
    head = Dataset()
    head.PixelSpacing = [4.42, 4.42]
    image = read_dicom(write(nm_dataset(PixelSpacing=None, DetectorInformationSequence=[head]), tmp_path / "d.dcm"))
    assert image.pixel_spacing == (4.42, 4.42)
    assert image.metadata["spacing_known"] is True
    assert image.metadata["spacing_source"] == "DetectorInformationSequence"


def test_missing_spacing_is_one_mm_and_flagged_unknown(tmp_path):
    image = read_dicom(write(nm_dataset(PixelSpacing=None), tmp_path / "nospacing.dcm"))
    assert image.pixel_spacing == (1.0, 1.0)
    assert image.metadata["spacing_known"] is False


def test_monochrome1_is_not_inverted(tmp_path):
    image = read_dicom(write(nm_dataset(PhotometricInterpretation="MONOCHROME1"), tmp_path / "m1.dcm"))
    np.testing.assert_array_equal(image.array[0], PIXELS)
    assert image.metadata["photometric_interpretation"] == "MONOCHROME1"


def test_recon_volume_gets_slice_spacing(tmp_path):
    frames = np.stack([PIXELS] * 3)
    ds = nm_dataset(frames, ImageType=["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"], SliceThickness=4.8)
    assert read_dicom(write(ds, tmp_path / "recon.dcm")).slice_spacing == 4.8


def test_file_without_preamble_or_meta_is_read(tmp_path):
    ds = nm_dataset()
    del ds.file_meta
    path = tmp_path / "raw_dataset.dcm"
    pydicom.dcmwrite(path, ds, implicit_vr=True, little_endian=True)
    assert path.read_bytes()[128:132] != b"DICM"
    image = read_dicom(path)
    np.testing.assert_array_equal(image.array[0], PIXELS)
    assert image.metadata["transfer_syntax"] == "1.2.840.10008.1.2"


def test_read_dicom_dataset_gives_the_pydicom_dataset(tmp_path):
    path = write(nm_dataset(), tmp_path / "a.dcm")
    assert read_dicom_dataset(path).StationName == "GAMMA1"
    assert "PixelData" not in read_dicom_dataset(path, stop_before_pixels=True)


# --- compressed transfer syntaxes, from pydicom's own test files ---------------------------------

def test_jpeg_lossless_whole_body_bone_scan():
    """JPEG-LL.dcm: a real Tc-99m whole-body bone scan, NM 1024x256, JPEG lossless (pylibjpeg)."""
    require_decoder(JPEGLosslessSV1)
    image = load_image(pydicom_file("JPEG-LL.dcm"))
    assert image.shape == (1, 1024, 256)
    assert image.modality == "NM"
    assert image.metadata["transfer_syntax"] == JPEGLosslessSV1
    assert image.pixel_spacing == (2.26, 2.26)
    assert (image.array.min(), image.array.max(), image.array.sum()) == (0, 278, 3596452)
    # The same scan stored uncompressed after a lossy JPEG 2000 round trip: the same picture.
    reference = load_image(pydicom_file("JPEG2000_UNC.dcm")).array
    assert np.corrcoef(image.array.ravel(), reference.ravel())[0, 1] > 0.9


def test_jpeg_2000_decodes_to_the_uncompressed_reference():
    require_decoder(JPEG2000)
    image = load_image(pydicom_file("JPEG2000.dcm"))
    np.testing.assert_array_equal(image.array, load_image(pydicom_file("JPEG2000_UNC.dcm")).array)


def test_rle_multi_frame_decodes_exactly():
    require_decoder(RLELossless)
    image = load_image(pydicom_file("emri_small_RLE.dcm"))
    assert image.shape == (10, 64, 64)
    np.testing.assert_array_equal(image.array, load_image(pydicom_file("emri_small.dcm")).array)


def test_jpeg_ls_lossless_decodes_exactly():
    require_decoder(JPEGLSLossless)
    image = load_image(pydicom_file("emri_small_jpeg_ls_lossless.dcm"))
    np.testing.assert_array_equal(image.array, load_image(pydicom_file("emri_small.dcm")).array)


def test_jpeg_baseline_colour_becomes_grey_close_to_lossless_copy():
    require_decoder(JPEGBaseline8Bit)
    image = load_image(pydicom_file("SC_rgb_jpeg_dcmtk.dcm"))
    lossless = load_image(pydicom_file("SC_rgb_rle.dcm"))
    assert image.shape == lossless.shape == (1, 100, 100)
    assert np.abs(image.array - lossless.array).mean() < 1.0
    assert "grey" in image.metadata["conversion_note"]


# --- real files -------------------------------------------------------------------------------------

def test_real_intrinsic_flood(shared_data):
    image = read_dicom(shared_data / "flood" / "UNIFORMIDAD_1.dcm")
    assert image.shape == (1, 256, 256)
    assert image.pixel_spacing == pytest.approx((2.065, 2.065), abs=1e-6)
    assert image.array.sum() == 16_000_045  # CountsAccumulated in the header
    meta = image.metadata
    assert (meta["modality"], meta["manufacturer"], meta["collimator"], meta["detector_ids"]) == \
        ("NM", "MEDISO", "INTR", ["1"])


def test_real_pet_slice_is_rescaled(shared_data):
    path = shared_data / "pet" / "PT_slice_1.dcm"
    image = read_dicom(path)
    ds = read_dicom_dataset(path)
    assert image.modality == "PT" and image.metadata["units"] == "BQML"
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_allclose(image.array[0], expected, rtol=1e-6)


# --- bad input ---------------------------------------------------------------------------------------

def test_truncated_pixel_data(tmp_path):
    path = write(nm_dataset(), tmp_path / "cut.dcm")
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(InputError, match="cut.dcm: is a truncated DICOM file"):
        read_dicom(path)


def test_file_cut_inside_the_header(tmp_path):
    path = write(nm_dataset(), tmp_path / "stub.dcm")
    path.write_bytes(path.read_bytes()[:250])
    with pytest.raises(InputError, match="stub.dcm: is a truncated or corrupt DICOM file"):
        read_dicom(path)


def test_dicom_without_pixel_data(tmp_path):
    ds = nm_dataset()
    del ds.PixelData
    with pytest.raises(InputError, match="nopix.dcm: is a DICOM file without pixel data"):
        read_dicom(write(ds, tmp_path / "nopix.dcm"))


def test_text_file_named_dcm_is_not_dicom(tmp_path):
    path = tmp_path / "notes.dcm"
    path.write_text("patient came back for a repeat scan\n" * 5)
    with pytest.raises(InputError, match="notes.dcm: is not a DICOM file"):
        read_dicom(path)


def test_transfer_syntax_without_any_decoder_is_named(tmp_path):
    ds = nm_dataset()
    ds.file_meta.TransferSyntaxUID = MPEG2MPML
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + bytes(60)])
    with pytest.raises(InputError, match="movie.dcm: .*MPEG2 Main Profile / Main Level.*cannot decode"):
        read_dicom(write(ds, tmp_path / "movie.dcm"))


def test_missing_codec_plugin_is_named(tmp_path):
    if get_decoder(HTJ2KLossless).is_available:
        pytest.skip("an HTJ2K decoder is installed, so this codec is not missing here")
    ds = nm_dataset()
    ds.file_meta.TransferSyntaxUID = HTJ2KLossless
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(60)])
    with pytest.raises(InputError, match="htj2k.dcm: .*High-Throughput JPEG 2000.*codec is not installed"):
        read_dicom(write(ds, tmp_path / "htj2k.dcm"))


def test_corrupt_compressed_pixel_data(tmp_path):
    require_decoder(JPEGLosslessSV1)
    ds = nm_dataset()
    ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xc3" + bytes(range(60))])
    with pytest.raises(InputError, match="broken.dcm: its pixel data could not be decoded .*JPEG Lossless"):
        read_dicom(write(ds, tmp_path / "broken.dcm"))


def test_nan_pixels_are_refused(tmp_path):
    ds = nm_dataset()
    del ds.PixelData, ds.BitsStored, ds.HighBit, ds.PixelRepresentation
    ds.BitsAllocated = 32
    ds.FloatPixelData = np.array([[1, np.nan], [np.inf, 4]], np.float32).tobytes()
    ds.Rows, ds.Columns = 2, 2
    with pytest.raises(InputError, match="nan.dcm: 2 pixel value"):
        read_dicom(write(ds, tmp_path / "nan.dcm"))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="absent.dcm: file not found"):
        read_dicom_dataset(tmp_path / "absent.dcm")
