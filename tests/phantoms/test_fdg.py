"""FDG kinetic phantom: compartment model, wash-in/wash-out, determinism, the noise-free delayed volume, NIfTI set
and manifest."""

from __future__ import annotations

import numpy as np
import pytest

from nmkit.errors import InputError
from nmkit.io import read_nifti
from nmkit.phantoms.fdg import (LESION_LABEL_BASE, TISSUES, FDGSpec, generate_fdg_patients, plasma_input,
                                read_fdg_manifest, tissue_curve, write_fdg_set)

SMALL = FDGSpec(size=40, pixel_mm=10.6912, slices=12, slice_mm=10.0)


def test_plasma_input_is_scaled_to_suv_1_6_at_60_min():
    assert plasma_input(np.array([60.0]))[0] == pytest.approx(1.6)
    assert plasma_input(np.array([0.0]))[0] == 0.0


def test_one_tissue_model_matches_closed_form():
    # constant input 1, k3 = k4 = 0: C(t) = K1 / k2 (1 - exp(-k2 t))
    t = np.arange(0, 60, 0.01)
    curve = tissue_curve(t, np.ones_like(t), 0.3, 0.15, 0.0, 0.0)
    assert curve[-1] == pytest.approx(0.3 / 0.15 * (1 - np.exp(-0.15 * t[-1])), rel=2e-3)


def test_irreversible_model_grows_as_ki_times_integral():
    # constant input 1, k4 = 0: C(t) -> Ki t + K1 k2 / (k2 + k3)^2 with Ki = K1 k3 / (k2 + k3)
    t = np.arange(0, 200, 0.01)
    k1, k2, k3 = 0.2, 0.4, 0.1
    curve = tissue_curve(t, np.ones_like(t), k1, k2, k3, 0.0)
    assert curve[-1] == pytest.approx(k1 * k3 / (k2 + k3) * t[-1] + k1 * k2 / (k2 + k3) ** 2, rel=2e-3)


def test_lesions_gain_and_background_washes_out():
    patients = generate_fdg_patients(FDGSpec(size=64, pixel_mm=10.6912, slices=40, slice_mm=10.0), 4, seed=2)
    lesions = [lesion for p in patients for lesion in p.lesions]
    assert lesions
    for p in patients:
        assert p.tissue_suv["liver"][1] < p.tissue_suv["liver"][0]
        assert p.tissue_suv["blood_pool"][1] < p.tissue_suv["blood_pool"][0]
        assert p.tissue_suv["bladder"][1] > p.tissue_suv["bladder"][0]
        assert p.early.shape == p.delayed.shape == (40, 64, 64) and p.early.dtype == np.float32
    for lesion in lesions:
        assert lesion.true_suv_delayed > lesion.true_suv_early
        assert lesion.label >= LESION_LABEL_BASE and 8 <= lesion.diameter_mm <= 30
    # not a scaled early volume: the delayed/early ratio of lesions and liver differ
    ratio = lesions[0].true_suv_delayed / lesions[0].true_suv_early
    assert ratio > 1.2 > 1.0 > patients[0].tissue_suv["liver"][1] / patients[0].tissue_suv["liver"][0]


def test_same_seed_same_patients_and_prefix():
    a = generate_fdg_patients(SMALL, 2, seed=5)
    b = generate_fdg_patients(SMALL, 3, seed=5)
    for p, q in zip(a, b):
        assert np.array_equal(p.early, q.early) and np.array_equal(p.delayed, q.delayed)
        assert np.array_equal(p.labels, q.labels)
    assert not np.array_equal(a[0].early, generate_fdg_patients(SMALL, 1, seed=6)[0].early)
    assert set(np.unique(a[0].labels)) >= {0, TISSUES["soft_tissue"], TISSUES["liver"]}



def test_noise_free_delayed_is_the_noisy_one_without_its_noise():
    plain = generate_fdg_patients(SMALL, 1, seed=5)[0]
    patient = generate_fdg_patients(SMALL, 1, seed=5, noise_free=True)[0]
    assert plain.delayed_noise_free is None
    assert np.array_equal(patient.early, plain.early) and np.array_equal(patient.delayed, plain.delayed)
    truth = patient.delayed_noise_free
    assert truth.shape == patient.delayed.shape and truth.dtype == np.float32 and truth.min() >= 0
    body = patient.labels > 0
    noise = (patient.delayed - truth)[body]
    assert abs(noise.mean()) < 0.02 * truth[body].mean() and noise.std() > 0.05 * truth[body].mean()

def test_write_set_is_byte_identical_with_manifest(tmp_path):
    write_fdg_set(tmp_path / "a", SMALL, 2, seed=1)
    write_fdg_set(tmp_path / "b", SMALL, 2, seed=1)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 7
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    records = read_fdg_manifest(tmp_path / "a" / "manifest.csv")
    assert [r["patient"] for r in records] == ["patient_00000", "patient_00001"]
    early = read_nifti(tmp_path / "a" / records[0]["early"])
    assert early.shape == (12, 40, 40) and early.pixel_spacing == pytest.approx((10.6912, 10.6912))
    assert early.slice_spacing == 10.0 and early.modality == "PT"
    patient = generate_fdg_patients(SMALL, 1, seed=1)[0]
    assert np.array_equal(early.array, patient.early)
    for lesion in records[0]["lesions"]:
        assert {"true_suv_early", "true_suv_delayed", "suvmax_early", "suvmax_delayed"} <= set(lesion)


def test_write_set_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "other.txt").write_text("keep me")
    with pytest.raises(InputError, match="not empty"):
        write_fdg_set(tmp_path, SMALL, 1)
    assert (tmp_path / "other.txt").read_text() == "keep me"


@pytest.mark.parametrize("changes", [{"size": 16}, {"size": 32, "pixel_mm": 5.0}, {"early_window_min": (30, 20)},
                                     {"fwhm_mm_range": (9, 7)}, {"max_lesions": 50}])
def test_spec_validation(changes):
    with pytest.raises(ValueError):
        FDGSpec(**changes)
