"""Every bonescan model: forward, backward, registry round trip; the plan's SimpleCNN with its two fixes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nmkit.models import create_model, list_models, load_bundle, save_bundle
from nmkit.workflows.bonescan.models import SimpleCNN

NAMES = ["bonescan-compact", "bonescan-resnet18", "bonescan-simplecnn-1", "bonescan-simplecnn-2",
         "bonescan-simplecnn-3"]


def test_registered():
    assert list_models("bonescan-*") == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_forward_backward(name):
    torch.manual_seed(0)
    model = create_model(name)
    logits = model(torch.rand(2, 1, 128, 128))
    assert logits.shape == (2, 5)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("blocks", [1, 2, 3])
def test_simplecnn_fixes(blocks):
    model = SimpleCNN(blocks, input_size=64)
    assert isinstance(model.classifier, nn.Linear)  # no ReLU after the last layer
    assert model.classifier.in_features == (16, 32, 64)[blocks - 1] * (64 // 2**blocks) ** 2
    assert (model(torch.full((3, 1, 64, 64), -5.0)) != 0).any()
    with pytest.raises(ValueError):
        SimpleCNN(4)


def test_bundle_round_trip(tmp_path):
    torch.manual_seed(0)
    model = create_model("bonescan-simplecnn-2").eval()
    x = torch.rand(1, 1, 128, 128)
    loaded, info = load_bundle(save_bundle(tmp_path / "m.pt", "bonescan-simplecnn-2", {}, model))
    assert torch.equal(loaded(x), model(x)) and info["model_name"] == "bonescan-simplecnn-2"
