"""PSNR, SSIM, NRMSE and FID on inputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from nmkit.errors import InputError
from nmkit.metrics.image import (RANDOM_EXTRACTOR_NAME, RandomConvFeatures, fid, fid_extractor, mse, nrmse, psnr,
                                 ssim)


def test_psnr_known_values():
    target = np.zeros((2, 4, 4))
    assert psnr(target + 0.1, target, data_range=1.0) == pytest.approx(20.0)
    assert psnr(target + 1.0, target, data_range=10.0) == pytest.approx(20.0)
    assert psnr(target, target, 1.0) == float("inf")


def test_psnr_and_mse_inside_a_mask():
    target = np.zeros((4, 4))
    pred = target.copy()
    pred[0, 0] = 1.0
    mask = np.zeros((4, 4), bool)
    mask[0, :2] = True
    assert mse(pred, target, mask) == pytest.approx(0.5)
    assert psnr(pred, target, 1.0, mask) == pytest.approx(10 * np.log10(2))
    assert psnr(pred, target, 1.0) == pytest.approx(10 * np.log10(16))
    with pytest.raises(ValueError):
        mse(pred, target, np.zeros((4, 4), bool))


def test_nrmse_is_euclidean():
    target = np.array([3.0, 4.0])
    assert nrmse(target + np.array([0.0, 1.0]), target) == pytest.approx(1 / 5)
    assert nrmse(target, target) == 0.0


def test_ssim_identical_is_one_and_constant_images_follow_the_luminance_term():
    image = np.random.default_rng(0).random((2, 32, 32))
    assert ssim(image, image, data_range=1.0) == pytest.approx(1.0)
    c1 = (0.01 * 1.0) ** 2  # constant images: SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    a, b = np.full((16, 16), 0.5), np.full((16, 16), 0.25)
    assert ssim(a, b, data_range=1.0) == pytest.approx((2 * 0.5 * 0.25 + c1) / (0.25 + 0.0625 + c1))


def test_shapes_must_match():
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(np.zeros((2, 2)), np.zeros((3, 3)), 1.0)


def test_random_extractor_is_fixed_and_offline():
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(RandomConvFeatures()(x), RandomConvFeatures()(x))
    extractor, name = fid_extractor(None)
    assert name == RANDOM_EXTRACTOR_NAME and extractor(x).shape == (2, 128)


def test_fid_zero_for_same_sets_and_grows_with_difference():
    rng = np.random.default_rng(1)
    real = rng.random((8, 32, 32)).astype(np.float32)
    extractor, _ = fid_extractor(None)
    assert abs(fid(real, real, extractor)) < 1e-3
    assert fid(real, real * 0.5, extractor) > fid(real, real * 0.9, extractor) > 1e-4
    with pytest.raises(ValueError):
        fid(real[:1], real, extractor)


def test_inception_extractor_from_a_local_file(tmp_path):
    weights = tmp_path / "inception.pth"
    torch.save(torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict(),
               weights)
    extractor, name = fid_extractor(weights)
    assert "inception.pth" in name
    assert extractor(torch.rand(1, 3, 64, 64)).shape == (1, 2048)
    with pytest.raises(InputError, match="not found"):
        fid_extractor(tmp_path / "missing.pth")
    (tmp_path / "bad.pth").write_bytes(b"nonsense")
    with pytest.raises(InputError, match="cannot be read"):
        fid_extractor(tmp_path / "bad.pth")
