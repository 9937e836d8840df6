"""rds data, tasks and configs: the config's task picks the LightningModule; a tiny run trains and exports a bundle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nmkit.engine import load_config, train
from nmkit.engine.classification import ClassifierTask
from nmkit.engine.config import merge
from nmkit.engine.segmentation import SegmentationTask
from nmkit.errors import InputError
from nmkit.models import load_bundle
from nmkit.workflows.rds.data import ClassificationSet, build_set, classifier_input, lung_input, resize_pair
from nmkit.workflows.rds.evaluate import evaluate_folder, model_role
from nmkit.workflows.rds.task import build_datamodule, build_task

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
TINY = {"data": {"phantom": {"n": 15, "shape": [48, 48]}, "size": 32, "batch_size": 4},
        "model": {"work_size": 32}, "trainer": {"max_epochs": 1, "progress_bar": False}}


@pytest.mark.parametrize("name, task, model", [
    ("rds-seg-fast", SegmentationTask, "rds-unet-small"), ("rds-cls-fast", ClassifierTask, "rds-cnn-small"),
    ("rds-whole-fast", ClassifierTask, "rds-cnn-small"), ("rds-seg-paper", None, "rds-unet-effb5"),
    ("rds-cls-paper", None, "rds-effnet-b5"), ("rds-joint-fast", None, "rds-joint"),
    ("rds-joint-paper", None, "rds-joint")])
def test_configs_load_and_pick_their_task(name, task, model):
    config = load_config(CONFIGS / f"{name}.yaml")
    assert config["workflow"] == "rds" and config["model"]["name"] == model
    if task is not None:
        assert isinstance(build_task(config), task)


def test_unknown_task_is_refused():
    config = merge(load_config(CONFIGS / "rds-seg-fast.yaml"), {"task": "detection"})
    with pytest.raises(InputError, match="task must be one of segmentation, classification"):
        build_task(config)


def test_phantom_set_is_split_as_the_study_and_lungs_input_is_masked():
    rds_set = build_set({"phantom": {"n": 15, "shape": [48, 48]}, "size": 32}, seed=0)
    assert rds_set.images.shape == (15, 32, 32) and rds_set.images.max() <= 1.0
    assert sorted(set(rds_set.split)) == ["test", "train", "val"] and (rds_set.split == "train").sum() >= 8
    masked = classifier_input(rds_set.images, rds_set.masks, "lungs")
    assert np.all(masked[rds_set.masks == 0] == 0)
    assert np.array_equal(classifier_input(rds_set.images, rds_set.masks, "whole"), rds_set.images)
    x, y = ClassificationSet(rds_set, "lungs", augment=True)[0]
    assert x.shape == (1, 32, 32) and int(y) == rds_set.rds[0]


def test_lung_margin_widens_the_mask_and_inference_masks_as_training():
    grey = np.full((64, 64), 200, dtype=np.uint8)
    mask = np.zeros((64, 64), dtype=bool)
    mask[20:40, 10:30] = True
    plain, wide = lung_input(grey, mask, 32), lung_input(grey, mask, 32, margin=2)
    assert (plain > 0).sum() == 10 * 10 and (wide > 0).sum() == 14 * 14  # resampled first, then widened
    image, outline = resize_pair(grey, mask, 32)
    assert np.array_equal(wide, classifier_input(image[None], outline[None], "lungs", 2)[0])
    rds_set = build_set({"phantom": {"n": 15, "shape": [48, 48]}, "size": 32}, seed=0)
    x, _ = ClassificationSet(rds_set, "lungs", margin=2)[0]
    assert (x > 0).sum() > (torch.from_numpy(rds_set.images[0] * rds_set.masks[0]) > 0).sum()


def test_folder_set_reads_a_synth_folder(png_set):
    rds_set = build_set({"root": str(png_set), "size": 32}, seed=0)
    assert rds_set.images.shape == (10, 32, 32) and set(np.unique(rds_set.masks)) == {0, 1}


@pytest.mark.parametrize("name, role", [("rds-seg-fast", "segmenter"), ("rds-whole-fast", "whole")])
def test_one_epoch_trains_and_exports_a_bundle_of_its_role(tmp_path, name, role):
    config = merge(load_config(CONFIGS / f"{name}.yaml"), TINY)
    bundle = train(config, tmp_path / "run")
    _, info = load_bundle(bundle)
    assert model_role(info) == role
    assert build_datamodule(config).task == config["task"]


def _joint_config(tiny_models, tiny_kwargs) -> dict:
    joint = {"model": {"segmenter": {"name": "rds-unet-small", **tiny_kwargs["rds-unet-small"]},
                       "classifier": {"name": "rds-cnn-small", **tiny_kwargs["rds-cnn-small"]}},
             "init_bundles": {"segmenter": str(tiny_models["segmenter"]), "classifier": str(tiny_models["lungs"])}}
    config = merge(load_config(CONFIGS / "rds-joint-fast.yaml"), TINY)
    del config["model"]["work_size"]
    return merge(config, joint)


def test_joint_starts_from_both_bundles_trains_and_is_scored(tiny_models, tiny_kwargs, png_set, tmp_path):
    config = _joint_config(tiny_models, tiny_kwargs)
    task = build_task(config)
    segmenter, _ = load_bundle(tiny_models["segmenter"])
    assert all(torch.equal(a, b) for a, b in zip(task.model.segmenter.state_dict().values(),
                                                 segmenter.state_dict().values()))
    bundle = train(config, tmp_path / "run")
    result = evaluate_folder(png_set, [bundle])
    assert model_role(load_bundle(bundle)[1]) == "joint" and 0 <= result["joint_accuracy"] <= 1


def test_joint_without_its_bundles_is_refused(tiny_models, tiny_kwargs):
    config = _joint_config(tiny_models, tiny_kwargs)
    del config["init_bundles"]
    with pytest.raises(InputError, match="init_bundles: segmenter"):
        build_task(config)


def test_augment_radiograph_moves_masks_with_images_and_is_seeded():
    from nmkit.workflows.rds.data import augment_radiograph

    images = torch.zeros(4, 1, 32, 32)
    images[:, :, 8:24, 8:16] = 1.0  # a bright block; the mask marks the same block
    masks = (images[:, 0] > 0).long()
    out, moved = augment_radiograph(images, masks, torch.Generator().manual_seed(0))
    again, _ = augment_radiograph(images, masks, torch.Generator().manual_seed(0))
    assert torch.equal(out, again) and out.shape == images.shape and moved.shape == masks.shape
    assert 0 <= float(out.min()) and float(out.max()) <= 1
    inside, outside = out[:, 0][moved == 1].mean(), out[:, 0][moved == 0].mean()
    assert inside > outside + 0.3  # the mask still covers the bright block after the shared affine
