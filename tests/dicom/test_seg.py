"""The SEG: one frame per source frame (and per segment), each referring to its source frame; valid DICOM."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.pixels import unpack_bits

from nmkit.dicom.seg import build_segmentation, write_segmentation
from nmkit.dicom.source import dicom_sources

from .conftest import assert_valid, read, results_of


def test_gated_seg_has_every_frame_with_its_reference_and_mask(studies, tmp_path):
    sources = dicom_sources(studies["gated"])
    masks = np.zeros((8, 64, 64), bool)
    for f in range(8):
        masks[f, 20 + f:30, 20:30 + f] = True
    path = write_segmentation(results_of(sources, masks=masks), tmp_path / "lv.seg.dcm")
    seg = read(path)
    assert seg.NumberOfFrames == 8 and seg.StudyInstanceUID == sources[0].StudyInstanceUID
    assert seg.PatientName == sources[0].PatientName
    refs = [item.DerivationImageSequence[0].SourceImageSequence[0] for item in seg.PerFrameFunctionalGroupsSequence]
    assert [r.ReferencedFrameNumber for r in refs] == list(range(1, 9))
    assert {r.ReferencedSOPInstanceUID for r in refs} == {sources[0].SOPInstanceUID}
    bits = unpack_bits(seg.PixelData)[:8 * 64 * 64].reshape(8, 64, 64)
    np.testing.assert_array_equal(bits.astype(bool), masks)
    assert seg.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0].CodeMeaning == "Left ventricle"
    assert_valid(path)


def test_single_frame_sources_and_the_same_uids_for_the_same_content(studies, tmp_path):
    sources = dicom_sources(studies["chest"])
    mask = np.zeros((1, 128, 128), bool)
    mask[0, 40:90, 30:60] = True
    first = build_segmentation(results_of(sources, masks=mask))
    again = build_segmentation(results_of(sources, masks=mask))
    assert first.SOPInstanceUID == again.SOPInstanceUID and first.NumberOfFrames == 1
    assert "ReferencedFrameNumber" not in \
        first.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0]
    path = write_segmentation(results_of(sources, masks=mask), tmp_path / "lungs.seg.dcm")
    assert_valid(path)


def test_masks_must_match_the_source_frames(studies):
    with pytest.raises(ValueError, match="8 frames but the sources 1"):
        build_segmentation(results_of(dicom_sources(studies["flood"]), masks=np.zeros((8, 64, 64), bool)))
