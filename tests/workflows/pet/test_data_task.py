"""Slice pairs, patient-level split, baselines and one training run of each GAN."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from nmkit.engine import train
from nmkit.engine.config import DEFAULTS, merge
from nmkit.errors import InputError
from nmkit.workflows.pet.data import (SUV_SCALE, PatientPair, SlicePairs, check_pair, folder_patients,
                                      slice_lesions, slice_pairs, split_patients)
import torch

from nmkit.workflows.pet.task import (ImagePool, fit_linear_scaling, focal_uptake, gan_settings, identity_baseline,
                                    linear_baseline, linear_decay, pix2pix_l1)


def test_split_is_by_patient_and_complete():
    parts = split_patients(18, seed=0)
    together = np.concatenate(list(parts.values()))
    assert sorted(together) == list(range(18))
    assert [len(parts[k]) for k in ("train", "val", "test")] == [12, 3, 3]
    assert np.array_equal(split_patients(18, seed=0)["test"], parts["test"])


def test_slice_pairs_normalise_and_skip_air(fdg_set):
    patients = folder_patients(fdg_set)
    early, delayed = slice_pairs(patients[:1])
    body = (patients[0].early > 0.1).any(axis=(1, 2))
    assert early.shape == (body.sum(), 40, 40)
    assert np.allclose(early * SUV_SCALE, patients[0].early[body], atol=1e-6)
    pairs = SlicePairs(early, delayed)
    x, y = pairs[0]
    assert x.shape == y.shape == (1, 40, 40) and np.allclose(y.numpy()[0], delayed[0])


def test_lesion_masks_follow_the_kept_slices():
    labels = np.zeros((3, 4, 4), np.int16)
    labels[1:, 1:3, 1:3] = 1
    labels[2, 2, 2] = 100
    early = np.where(labels > 0, 1.0, 0.0).astype(np.float32)  # slice 0 is air and is left out
    with_labels = PatientPair("a", early, early, labels, [{"label": 100}], (5.0, 4.0, 4.0), None)
    without = with_labels._replace(labels=None, lesions=[])
    masks = slice_lesions([with_labels, without])
    assert masks.shape == (4, 4, 4) and masks.dtype == np.float32
    assert masks.sum() == 1 and masks[1, 2, 2] == 1
    x, y, m = SlicePairs(*slice_pairs([with_labels, without]), lesions=masks)[1]
    assert x.shape == y.shape == m.shape == (1, 4, 4) and m[0, 2, 2] == 1


def test_lesion_weight_adds_the_mean_error_over_lesion_voxels():
    y = torch.zeros(2, 1, 4, 4)
    fake = torch.full_like(y, 0.1)
    fake[0, 0, 1, 1] = 1.1  # the one lesion voxel is 1.0 too high
    lesions = torch.zeros_like(y)
    lesions[0, 0, 1, 1] = 1.0
    plain = pix2pix_l1(fake, y, y)
    assert float(plain) == pytest.approx((31 * 0.1 + 1.1) / 32)
    assert float(pix2pix_l1(fake, y, y, lesions=lesions, lesion_weight=0.5)) == pytest.approx(float(plain) + 0.5 * 1.1)
    assert float(pix2pix_l1(fake, y, y, lesions=torch.zeros_like(y), lesion_weight=0.5)) == pytest.approx(float(plain))


def test_mismatched_pairs_are_refused():
    a = SimpleNamespace(shape=(4, 8, 8), slice_spacing=5.0, pixel_spacing=(4.0, 4.0))
    with pytest.raises(InputError, match="shape"):
        check_pair(a, SimpleNamespace(shape=(4, 8, 9), slice_spacing=5.0, pixel_spacing=(4.0, 4.0)), "p1")
    with pytest.raises(InputError, match="spacing"):
        check_pair(a, SimpleNamespace(shape=(4, 8, 8), slice_spacing=3.0, pixel_spacing=(4.0, 4.0)), "p1")


def test_linear_baseline_recovers_a_known_scaling():
    rng = np.random.default_rng(0)
    early = [rng.uniform(0.5, 5.0, (3, 8, 8)).astype(np.float32) for _ in range(2)]
    for e in early:
        e[:, 0] = 0.0  # air
    delayed = [np.where(e > 0.1, 1.5 * e - 0.2, 0.0) for e in early]
    slope, intercept = fit_linear_scaling(early, delayed)
    assert (slope, intercept) == pytest.approx((1.5, -0.2), abs=1e-6)
    assert np.allclose(linear_baseline(early[0], (slope, intercept)), delayed[0], atol=1e-5)
    assert np.array_equal(identity_baseline(early[0]), early[0])


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="gan.method"):
        gan_settings({"gan": {"method": "unit"}})


@pytest.mark.parametrize("method", ["pix2pix", "cyclegan"])
def test_one_epoch_trains_and_exports_the_generator(tmp_path, method):
    config = merge(DEFAULTS, {
        "workflow": "pet", "seed": 0, "model": {"name": "pet-unet-generator", "base": 4, "depth": 3, "residual": True},
        "gan": {"method": method, "focal_weight": 30.0, "lesion_weight": 0.3, "discriminator": {"base": 4}},
        "data": {"phantom": {"n": 3, "size": 40, "pixel_mm": 10.6912, "slices": 8, "slice_mm": 10.0},
                 "batch_size": 4},
        "optim": {"lr": 2e-4, "decay_epochs": 1},
        "trainer": {"max_epochs": 1, "progress_bar": False, "limit_train_batches": 2}})
    bundle = train(config, tmp_path / method)
    summary = json.loads((tmp_path / method / "train_summary.json").read_text())
    assert bundle.is_file() and np.isfinite(summary["final_metrics"]["val_l1"])


def test_linear_decay_is_the_papers_schedule():
    factor = linear_decay(200, 100)
    assert [factor(e) for e in (0, 99)] == [1.0, 1.0]
    assert factor(100) == pytest.approx(1 - 1 / 101) and factor(199) == pytest.approx(1 / 101)
    assert linear_decay(5, 0)(4) == 1.0
    with pytest.raises(ValueError, match="decay_epochs"):
        linear_decay(5, 6)


def test_image_pool_mixes_history_into_the_discriminators_batch():
    torch.manual_seed(0)
    assert torch.equal(ImagePool(0)(torch.ones(3, 1, 2, 2)), torch.ones(3, 1, 2, 2))
    pool = ImagePool(4)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool(first), first)  # filling: the new fakes pass through
    second = torch.arange(4.0, 12.0).view(8, 1, 1, 1)
    out = pool(second).flatten()
    assert len(pool.images) == 4 and out.shape == (8,)
    assert 0 < (out < 4).sum() < 8  # some older fakes were handed out, each replaced by a new one
    kept = torch.cat(pool.images).flatten().tolist()
    assert sorted(out.tolist() + kept) == list(range(12))  # every fake is shown once or kept, none lost or doubled


def test_focal_uptake_marks_lesion_sized_hot_spots_not_organs():
    x = torch.full((1, 1, 64, 64), 0.1)
    x[0, 0, 4:28, 4:28] = 0.3  # an organ of 24 px
    x[0, 0, 44:47, 44:47] = 0.4  # a 3 px lesion
    focal = focal_uptake(x)[0, 0]
    assert focal[45, 45] > 0.15 and focal[16, 16] < 0.01 and focal[60, 4] < 1e-6
    assert focal.max() <= 0.3 and focal.min() >= 0
