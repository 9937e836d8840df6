"""Fixtures for the web tests: tiny untrained bundles for every workflow and one phantom study of each kind."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from nmkit.io.dicom_write import write_nm_dicom
from nmkit.models import create_model, save_bundle
from nmkit.phantoms.bone import BoneSpec, write_bone_set
from nmkit.phantoms.chest import ChestSpec, write_chest_set
from nmkit.phantoms.fdg import FDGSpec, write_fdg_set
from nmkit.phantoms.flood import FloodSpec, generate_floods
from nmkit.phantoms.gated import GatedSpec, write_gated_set
from nmkit.web.app import Settings

CAMERA = {"StationName": "GAMMA1", "DeviceSerialNumber": "SN-0042", "AcquisitionDate": "20261102",
          "AcquisitionTime": "081500"}


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, list[Path]]:
    """One tiny untrained bundle per workflow (rds: a segmenter and a lung classifier)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models")

    def bundle(name: str, model: str, kwargs: dict, extra: dict | None = None) -> Path:
        return save_bundle(folder / name, model, kwargs, create_model(model, **kwargs).eval(), extra)

    unet = {"depth": 3, "work_size": 32, "decoder_width": 8}
    return {
        "qc": [bundle("qc.pt", "qc-compact", {"width": 4, "stages": 2})],
        "gbp": [bundle("gbp.pt", "gbp-unet-small", unet)],
        "bonescan": [bundle("bone.pt", "bonescan-compact", {"width": 4})],
        "pet": [bundle("pet.pt", "pet-unet-generator", {"base": 4, "depth": 3},
                       {"config": {"gan": {"method": "pix2pix"}}})],
        "rds": [bundle("seg.pt", "rds-unet-small", unet, {"config": {"task": "segmentation"}}),
                bundle("lungs.pt", "rds-cnn-small", {"width": 4, "work_size": 32},
                       {"config": {"task": "classification", "data": {"input": "lungs"}}})],
    }


@pytest.fixture
def settings(tmp_path, models) -> Settings:
    return Settings(data_dir=tmp_path / "data", models=models, max_upload_mb=8, workers=2)


def flood_dicom(path: Path, seed: int = 0, **tags) -> Path:
    """A 128x128 phantom flood (300 counts/px) as NM DICOM with a camera identity."""
    spec = dataclasses.replace(FloodSpec(), counts=300.0, shape=(128, 128), defect_fraction=0.0)
    images, _ = generate_floods(spec, 1, seed)
    return write_nm_dicom(path, images[:1].astype(np.uint16), (3.2, 3.2), extra=CAMERA | tags)


@pytest.fixture(scope="session")
def studies(tmp_path_factory) -> dict[str, Path]:
    """One phantom study per workflow, in the format a user would upload."""
    folder = tmp_path_factory.mktemp("studies")
    gated = write_gated_set(folder / "gated", GatedSpec(frames=16, size=64), 1, seed=2)
    fdg = write_fdg_set(folder / "fdg", FDGSpec(size=40, pixel_mm=10.6912, slices=12, slice_mm=10.0), 1, seed=3)
    bone = write_bone_set(folder / "bone", BoneSpec(), 1, seed=4)
    chest = write_chest_set(folder / "chest", ChestSpec(shape=(64, 64)), 1, seed=5)
    return {"qc": flood_dicom(folder / "flood.dcm"),
            "gbp": gated / "studies" / "study_00000.dcm",
            "pet": fdg / "patient_00000" / "early.nii.gz",
            "bonescan": bone / "scans" / "scan_00000.mat",
            "rds": next((chest / "images").glob("*.png"))}
