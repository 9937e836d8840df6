"""One library shape for every workflow: `from nmkit import ...`, a path, an Image or a numpy array in, any model form."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import nmkit
from nmkit.errors import InputError
from nmkit.models import create_model, save_bundle
from nmkit.phantoms.flood import FloodSpec, generate_floods


@pytest.fixture(scope="module")
def tiny_qc(tmp_path_factory):
    torch.manual_seed(0)
    kwargs = {"width": 4, "stages": 2}
    return save_bundle(tmp_path_factory.mktemp("m") / "qc.pt", "qc-compact", kwargs,
                       create_model("qc-compact", **kwargs).eval())


@pytest.fixture(scope="module")
def flood():
    spec = dataclasses.replace(FloodSpec(), counts=300.0, shape=(96, 96), defect_fraction=0.0)
    return generate_floods(spec, 1, 3)[0][0]


def test_every_analysis_class_is_importable_from_nmkit():
    for name in ("FloodQC", "GatedEF", "DelayedPET", "KneeDJD", "ChestRDS"):
        cls = getattr(nmkit, name)
        assert all(hasattr(cls, m) for m in ("analyze", "results", "results_data", "plot_analyzed_image"))
    with pytest.raises(AttributeError):
        nmkit.NoSuchThing  # noqa: B018


def test_flood_from_array_path_or_loaded_bundle_gives_one_result(tmp_path, flood, tiny_qc):
    from nmkit.models import load_bundle

    path = tmp_path / "flood.npy"
    np.save(path, flood)
    by_path = nmkit.FloodQC(path).analyze(model=str(tiny_qc)).results_data().as_dict()
    by_array = nmkit.FloodQC(flood).analyze(model=tiny_qc).results_data().as_dict()
    by_bundle = nmkit.FloodQC(flood).analyze(model=load_bundle(tiny_qc)).results_data().as_dict()
    keys = ("ufov_iu", "cfov_iu", "ufov_du", "defect_probability")
    assert [by_array[k] for k in keys] == [by_path[k] for k in keys] == [by_bundle[k] for k in keys]


def test_array_with_pixel_size_uses_it(flood, tiny_qc):
    qc = nmkit.FloodQC(flood, pixel_mm=3.2).analyze(model=tiny_qc)
    assert qc.image.pixel_spacing == (3.2, 3.2) and qc.uniformity.bin_factor == 2   # 6.4 mm NEMA pixels


def test_bad_sources_and_models_are_one_sentence(flood):
    with pytest.raises(InputError, match="NaN or infinite"):
        nmkit.FloodQC(np.full((64, 64), np.nan))
    with pytest.raises(InputError, match="cannot analyse a dict"):
        nmkit.FloodQC({"pixels": 1})
    with pytest.raises(InputError, match="neither a model file nor a shipped model"):
        nmkit.FloodQC(flood).analyze(model="no-such-model")
    with pytest.raises(InputError, match="model must be a path"):
        nmkit.FloodQC(flood).analyze(model=42)


def test_pet_prediction_in_memory_from_an_array(tmp_path):
    early = np.zeros((4, 32, 32), np.float32)
    early[:, 8:24, 8:24] = 1.5
    pet = nmkit.DelayedPET(early, pixel_mm=4.0, slice_mm=3.0).analyze()     # the shipped generator
    result = pet.results_data().as_dict()
    assert pet.delayed.shape == early.shape and result["spacing_mm"] == [3.0, 4.0, 4.0]
    assert result["predicted_suv_max"] == pytest.approx(float(pet.delayed.max()))
    assert pet.save(tmp_path / "d.nii.gz").is_file() and pet.plot_analyzed_image(tmp_path / "m.png").is_file()
    with pytest.raises(InputError, match="one slice"):
        nmkit.DelayedPET(early[:1], pixel_mm=4.0)


def test_chest_radiograph_from_an_array(tmp_path):
    from nmkit.phantoms.chest import ChestSpec, generate_chest_xray

    xray = generate_chest_xray(ChestSpec(shape=(256, 256)), seed=2)
    cxr = nmkit.ChestRDS(xray.pixels.astype(np.float32)).analyze()
    assert cxr.mask.shape == cxr.grey.shape and cxr.mask.any()
    assert 0.0 <= cxr.results_data().rds_probability <= 1.0
    assert cxr.plot_analyzed_image(tmp_path / "lungs.png").is_file()
