"""Each workflow's gate takes its own inputs and refuses the others' (phantoms here, real files below)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from nmkit.io import Image, load_image

KEYS = ("qc", "gbp", "pet", "bonescan", "rds")
GATES = {key: importlib.import_module(f"nmkit.workflows.{key}.gate") for key in KEYS}


def _dicom_meta(modality, image_type=("ORIGINAL", "PRIMARY", "STATIC", "EMISSION"), **extra):
    return {"format": "dicom", "modality": modality, "image_type": list(image_type)} | extra


def _inputs() -> dict[str, Image]:
    rng = np.random.default_rng(0)
    flood = rng.poisson(300, (96, 96)).astype(np.float32)
    gated = rng.poisson(20, (16, 64, 64)).astype(np.float32)
    body = np.zeros((2, 256, 96), np.float32)
    body[:, 20:240, 30:66] = rng.poisson(30, (2, 220, 36))
    yy, xx = np.mgrid[:128, :128]
    chest = (120 + 80 * np.sin(xx / 9.0) * np.cos(yy / 13.0)).round().astype(np.float32)
    pet = rng.gamma(2.0, 500.0, (1, 64, 64)).astype(np.float32)
    return {
        "qc": Image(flood, modality="NM", metadata=_dicom_meta("NM")),
        "gbp": Image(gated, modality="NM", metadata=_dicom_meta("NM", ("ORIGINAL", "PRIMARY", "GATED", "EMISSION"))),
        "pet": Image(pet, modality="PT", metadata=_dicom_meta("PT", ("ORIGINAL", "PRIMARY"), units="BQML")),
        "bonescan": Image(body, modality="NM", metadata=_dicom_meta("NM", ("ORIGINAL", "PRIMARY", "WHOLE BODY"))),
        "rds": Image(chest, modality="DX", metadata=_dicom_meta("DX", ("ORIGINAL", "PRIMARY"))),
    }


@pytest.mark.parametrize("owner", KEYS)
def test_each_gate_takes_only_its_own_kind(owner):
    image = _inputs()[owner]
    taken = [key for key in KEYS if GATES[key].admit(image).accepted]
    assert taken == [owner]


def test_grey_flood_goes_to_qc_and_grey_radiograph_to_rds():
    inputs = _inputs()
    flood = Image(inputs["qc"].array, metadata={"format": "png"})
    chest = Image(inputs["rds"].array, metadata={"format": "png"})
    assert GATES["qc"].admit(flood).accepted and not GATES["rds"].admit(flood).accepted
    assert GATES["rds"].admit(chest).accepted and not GATES["qc"].admit(chest).accepted


# (file under ../shared/data, the one workflow that takes it or None)
REAL = [("flood/UNIFORMIDAD_1.dcm", "qc"), ("flood/UNIFORMIDAD_circular.mhd", "qc"), ("pet/PT_slice_1.dcm", "pet"),
        ("cxr/montgomery/1.jpg", "rds"), ("cxr/montgomery/1-mask.png", None), ("nmqc/Jaszack.dcm", None),
        ("nmqc/QuadrantBar.dcm", None), ("linaqa-nm/MCR_Mediso_AnyScan_30f.dcm", None),
        ("linaqa-nm/sensitivity_PetriDish.dcm", None)]


@pytest.mark.parametrize(("name", "owner"), REAL)
def test_real_files_go_only_where_they_belong(shared_data, name, owner):
    image = load_image(shared_data / name)
    assert [key for key in KEYS if GATES[key].admit(image).accepted] == ([owner] if owner else [])


def test_rds_plausible_lungs_are_two_regions_one_each_side():
    from nmkit.workflows.rds.gate import implausible

    mask = np.zeros((100, 100), bool)
    mask[20:80, 15:42] = mask[20:80, 58:85] = True
    assert implausible(mask) == []
    one = mask.copy()
    one[:, 50:] = False
    assert any("not two lungs" in note for note in implausible(one))
    assert any("cover" in note for note in implausible(np.ones((100, 100), bool)))


def test_gbp_plausible_curve_has_one_systole_and_a_sized_roi():
    from nmkit.workflows.gbp.gate import implausible, systoles

    t = np.arange(24)
    heart = 1000 - 400 * np.sin(np.pi * np.clip(t, 0, 16) / 16)
    assert systoles(heart) == 1 and systoles(1000 + 300 * np.cos(4 * np.pi * t / 24)) == 2
    roi = np.zeros((64, 64), bool)
    roi[20:30, 20:30] = True
    assert implausible(roi, heart, 60.0) == []
    notes = implausible(np.ones((64, 64), bool), np.ones(24), 99.0)
    assert len(notes) == 3


def test_bonescan_plausible_knees_lie_side_by_side_low_in_the_body():
    from nmkit.workflows.bonescan.gate import implausible
    from nmkit.workflows.bonescan.knees import Knee

    assert implausible([Knee("right", 700, 100), Knee("left", 705, 160)], (1024, 256)) == []
    assert implausible([Knee("right", 200, 100), Knee("left", 700, 160)], (1024, 256))
    assert implausible([Knee("right", 700, 100)], (1024, 256)) == ["1 knee found, not two"]


def test_pet_plausible_suv_of_a_body():
    from nmkit.workflows.pet.gate import implausible

    body = np.zeros((4, 16, 16), np.float32)
    body[:, 4:12, 4:12] = 1.5
    assert implausible(body, body * 1.1, 0.1) == []
    assert len(implausible(body * 500, body * 500, 0.1)) == 3
