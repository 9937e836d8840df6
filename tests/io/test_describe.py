"""describe(): what an image is, from its header facts and pixel statistics; Admission's refusal sentence."""

from __future__ import annotations

import numpy as np
import pytest

from nmkit.errors import InputError
from nmkit.io import Image
from nmkit.io.describe import Admission, describe


def _flood(counts=200.0, shape=(64, 64)):
    return np.random.default_rng(0).poisson(counts, shape).astype(np.float32)


def test_flood_is_flat_counts_and_named_by_its_modality():
    d = describe(Image(_flood(), modality="NM", metadata={"format": "dicom", "modality": "NM",
                                                         "image_type": ["ORIGINAL", "PRIMARY", "STATIC"]}))
    assert d.counts_like and d.flat_field and not d.binary and d.flat_fraction > 0.99
    assert d.phrase == "an NM (nuclear medicine) image (1 frame of 64 x 64)"


def test_whole_body_gated_and_tomographic_come_from_image_type():
    meta = {"format": "dicom", "modality": "NM", "image_type": ["ORIGINAL", "PRIMARY", "WHOLE BODY"]}
    d = describe(Image(np.ones((2, 64, 16)), modality="NM", metadata=meta))
    assert d.whole_body and not d.gated and "whole-body image (2 frames of 64 x 16)" in d.phrase
    meta["image_type"] = ["DERIVED", "PRIMARY", "RECON TOMO"]
    assert describe(Image(np.ones((3, 8, 8)), metadata=meta)).tomographic


def test_mask_and_grey_picture():
    mask = np.zeros((32, 32), np.float32)
    mask[8:20, 8:20] = 255
    assert describe(Image(mask, metadata={"format": "png"})).phrase.startswith("a binary mask (png")
    ramp = np.tile(np.linspace(0, 255, 32, dtype=np.float32), (32, 1)).round()
    d = describe(Image(ramp, metadata={"format": "png"}))
    assert not d.flat_field and d.phrase == "a grey image (png, 1 frame of 32 x 32, values 0 to 255)"
    colour = Image(ramp, metadata={"format": "png", "conversion_note": "colour image converted to grey"})
    assert describe(colour).phrase == "a colour image (png, 1 frame of 32 x 32)"


def test_admission_refuses_with_one_sentence_or_notes_force():
    refused = Admission(False, "a PT (PET) image", "a planar flood", "with 2 frames")
    with pytest.raises(InputError, match=r"^f.dcm: is a PT \(PET\) image, with 2 frames, but qc check takes a "
                                         r"planar flood; --force analyses it anyway\.$"):
        refused.enforce("f.dcm", "qc check")
    with pytest.raises(InputError, match=r"planar flood\.$"):
        refused.enforce("f.dcm", "qc check", force=None)
    assert refused.enforce("f.dcm", "qc check", force=True).startswith("analysed with --force: the file is a PT")
    assert Admission(True, "a flood", "a planar flood").enforce("f.dcm", "qc check") is None
