"""The shared U-Net generator (plain, residual and non-negative) and the 70 x 70 PatchGAN: shapes, gradients,
registry, bundle round trip."""

from __future__ import annotations

import pytest
import torch

from nmkit.models import create_model, list_models, load_bundle, save_bundle
from nmkit.workflows.pet.models import receptive_field


def test_registered():
    assert {"pet-unet-generator", "pet-patchgan"} <= set(list_models("pet-*"))


@pytest.mark.parametrize("size, depth", [(32, 3), (64, 5), (128, 7)])
def test_generator_keeps_shape_and_backpropagates(size, depth):
    generator = create_model("pet-unet-generator", base=4, depth=depth)
    x = torch.rand(2, 1, size, size, requires_grad=True)
    y = generator(x)
    assert y.shape == x.shape
    y.mean().backward()
    assert x.grad is not None and generator.downs[0][0].weight.grad.abs().sum() > 0


def test_residual_generator_starts_as_the_identity_and_learns():
    torch.manual_seed(0)
    generator = create_model("pet-unet-generator", base=4, depth=3, residual=True)
    x = torch.rand(2, 1, 32, 32)
    assert torch.equal(generator(x), x)
    optimiser = torch.optim.Adam(generator.parameters(), lr=1e-2)
    for _ in range(2):
        optimiser.zero_grad()
        torch.nn.functional.l1_loss(generator(x), 2 * x).backward()
        optimiser.step()
    assert generator(x).shape == x.shape and not torch.equal(generator(x), x)
    assert generator.downs[0][0].weight.grad.abs().sum() > 0


def test_patchgan_sees_70_pixels():
    assert receptive_field(3) == 70
    disc = create_model("pet-patchgan", in_channels=2, base=8)
    assert disc(torch.rand(1, 2, 64, 64)).shape == (1, 1, 6, 6)
    assert create_model("pet-patchgan", in_channels=1, base=8)(torch.rand(1, 1, 128, 128)).shape == (1, 1, 14, 14)


def test_bundle_round_trip(tmp_path):
    torch.manual_seed(0)
    generator = create_model("pet-unet-generator", base=4, depth=3).eval()
    save_bundle(tmp_path / "g.pt", "pet-unet-generator", {"base": 4, "depth": 3}, generator)
    loaded, info = load_bundle(tmp_path / "g.pt")
    x = torch.rand(1, 1, 32, 32)
    assert torch.equal(loaded(x), generator(x)) and info["model_name"] == "pet-unet-generator"


def test_nonnegative_generator_ends_in_a_relu():
    torch.manual_seed(0)
    x = torch.rand(2, 1, 32, 32) - 0.5
    plain = create_model("pet-unet-generator", base=4, depth=3).eval()
    clipped = create_model("pet-unet-generator", base=4, depth=3, nonnegative=True).eval()
    clipped.load_state_dict(plain.state_dict())
    assert torch.equal(clipped(x), plain(x).clamp(min=0)) and (plain(x) < 0).any()
    residual = create_model("pet-unet-generator", base=4, depth=3, residual=True, nonnegative=True)
    assert torch.equal(residual(x), x.clamp(min=0))
