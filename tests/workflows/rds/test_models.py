"""rds models: registered, any input size, the study's B5 U-Net built offline, bundles, pretrained from a local file."""

from __future__ import annotations

import pytest
import torch

from nmkit.errors import InputError
from nmkit.models import create_model, list_models, load_bundle, save_bundle
from nmkit.workflows.rds.task import load_pretrained

TINY = {"rds-unet-small": {"depth": 3, "work_size": 32, "decoder_width": 8},
        "rds-cnn-small": {"width": 4, "work_size": 32}, "rds-effnet-b0": {"work_size": 32}}


def test_registered():
    assert set(list_models("rds-*")) == {"rds-unet-effb5", "rds-unet-small", "rds-effnet-b0", "rds-effnet-b3",
                                         "rds-effnet-b5", "rds-cnn-small", "rds-joint", "rds-ensemble"}


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("shape", [(40, 36), (64, 64)])
def test_any_input_size(name, shape):
    model = create_model(name, **TINY[name]).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 1, *shape))
    assert out.shape == ((2, 2, *shape) if "unet" in name else (2, 2))


def test_study_unet_effb5_builds_offline_and_segments():
    model = create_model("rds-unet-effb5", work_size=64).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 1, 50, 60)).shape == (1, 2, 50, 60)


def test_joint_model_masks_the_classifier_input_with_the_lung_probability():
    joint = create_model("rds-joint", segmenter={"name": "rds-unet-small", **TINY["rds-unet-small"]},
                         classifier={"name": "rds-cnn-small", **TINY["rds-cnn-small"]}).eval()
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        lungs = joint.segmenter(x).softmax(dim=1)[:, 1:2]
        assert torch.allclose(joint(x), joint.classifier(x * lungs))
        big = torch.nn.functional.interpolate(x, size=(64, 64), mode="nearest")  # resampled to 32 first
        small = torch.nn.functional.interpolate(big, size=(32, 32), mode="bilinear", antialias=True)
        assert torch.allclose(joint(big), joint(small))


def test_bundle_round_trip(tmp_path):
    model = create_model("rds-cnn-small", **TINY["rds-cnn-small"]).eval()
    path = save_bundle(tmp_path / "m.pt", "rds-cnn-small", TINY["rds-cnn-small"], model)
    again, info = load_bundle(path)
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), again(x)) and info["model_name"] == "rds-cnn-small"


def test_pretrained_weights_load_what_fits_and_refuse_what_does_not(tmp_path):
    source = create_model("rds-effnet-b0", work_size=32).net
    state = {k: v for k, v in source.state_dict().items()}
    state["classifier.1.weight"] = torch.zeros(1000, 1280)  # an ImageNet head: skipped
    torch.save(state, tmp_path / "imagenet.pth")
    target = create_model("rds-effnet-b0", work_size=32).net
    loaded = load_pretrained(target, str(tmp_path / "imagenet.pth"))
    assert loaded == len(state) - 1
    assert torch.equal(target.features[0][0].weight, source.features[0][0].weight)
    torch.save({"other.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(InputError, match="no weights that fit"):
        load_pretrained(target, str(tmp_path / "other.pth"))
