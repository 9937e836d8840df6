"""Both LV models: raw counts of any size in, per-pixel logits at the input size out; save and load."""

from __future__ import annotations

import pytest
import torch

from nmkit.models import create_model, list_models, load_bundle, save_bundle

from .conftest import TINY_UNET


def test_gbp_models_are_registered():
    assert {"gbp-deeplabv3-r50", "gbp-unet-small"} <= set(list_models("gbp-*"))


@pytest.mark.parametrize("name, kwargs", [("gbp-unet-small", TINY_UNET), ("gbp-unet-small", {}),
                                          ("gbp-deeplabv3-r50", {})])
@pytest.mark.parametrize("shape", [(64, 64), (72, 56)])
def test_forward_backward_any_size(name, kwargs, shape):
    torch.manual_seed(0)
    model = create_model(name, **kwargs)
    x = torch.rand(2, 1, *shape) * 500
    out = model(x)
    assert out.shape == (2, 2, *shape)
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_count_level_does_not_change_the_output():
    torch.manual_seed(0)
    model = create_model("gbp-unet-small", **TINY_UNET).eval()
    x = torch.rand(1, 1, 48, 48) * 100
    assert torch.allclose(model(x), model(x * 7.5), atol=1e-5)


def test_bundle_round_trip(tmp_path):
    torch.manual_seed(0)
    model = create_model("gbp-unet-small", **TINY_UNET).eval()
    loaded, info = load_bundle(save_bundle(tmp_path / "m.pt", "gbp-unet-small", TINY_UNET, model))
    x = torch.rand(1, 1, 40, 40) * 50
    assert torch.equal(model(x), loaded(x)) and info["model_name"] == "gbp-unet-small"
