"""Training data as the study: 4 frames per study, truth or observer consensus masks, split by study; training."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from nmkit.engine.config import DEFAULTS, merge
from nmkit.engine.train import train
from nmkit.errors import InputError
from nmkit.metrics.segmentation import dice
from nmkit.models import load_bundle
from nmkit.phantoms.gated import GatedSpec, write_gated_set
from nmkit.workflows.gbp.data import FrameDataset, folder_training_set, phantom_training_set, split_studies

from .conftest import TINY_UNET

SMALL = {"frames": 8, "size": 64}


def test_split_is_by_study_disjoint_and_60_20_20():
    parts = split_studies(10, seed=1)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [6, 2, 2]
    assert sorted(np.concatenate(list(parts.values()))) == list(range(10))
    assert np.array_equal(split_studies(10, seed=1)["test"], parts["test"])


def test_phantom_training_set_keeps_the_four_study_frames():
    frames, masks, study = phantom_training_set({"n": 3, **SMALL}, seed=2)
    assert frames.shape == (12, 64, 64) and masks.shape == (12, 64, 64) and masks.dtype == np.uint8
    assert list(study) == [0] * 4 + [1] * 4 + [2] * 4
    assert masks[0].sum() > masks[2].sum()  # ED before ES


def test_folder_masks_from_truth_or_observer_consensus(tmp_path):
    root = write_gated_set(tmp_path / "set", GatedSpec(**SMALL), 2, seed=3, fmt="npy", observers=3)
    frames, truth, study = folder_training_set(root, "truth")
    _, consensus, _ = folder_training_set(root, "consensus")
    assert frames.shape == truth.shape == consensus.shape and len(set(study)) == 2
    assert dice(consensus > 0, truth > 0).min() > 0.8 and not np.array_equal(consensus, truth)
    with pytest.raises(InputError, match="labels"):
        folder_training_set(root, "guess")


def test_augmentation_moves_image_and_mask_together():
    frames, masks, _ = phantom_training_set({"n": 1, **SMALL}, seed=4)
    torch.manual_seed(0)
    x, y = FrameDataset(frames, masks, augment=True)[0]
    assert x.shape == (1, 64, 64) and y.shape == (64, 64) and set(y.unique().tolist()) <= {0, 1}
    contrast = x[0][y.bool()].mean() / x[0][~y.bool()].mean()
    assert contrast > 1.5, "the mask must still cover the bright LV after the shared transform"


def test_tiny_training_run_writes_a_working_bundle(tmp_path):
    config = merge(DEFAULTS, {"workflow": "gbp", "seed": 0, "model": {"name": "gbp-unet-small", **TINY_UNET},
                              "data": {"phantom": {"n": 5, **SMALL}, "batch_size": 4},
                              "trainer": {"max_epochs": 1, "progress_bar": False}})
    model, info = load_bundle(train(config, tmp_path / "run"))
    rows = list(csv.DictReader((tmp_path / "run" / "logs" / "metrics.csv").open()))
    assert any(r.get("val_dice") for r in rows) and "val_dice" in info["final_metrics"]
    assert model(torch.rand(1, 1, 64, 64) * 50).shape == (1, 2, 64, 64)


def test_consensus_without_observer_rois_names_the_folder(tmp_path):
    root = write_gated_set(tmp_path / "set", GatedSpec(**SMALL), 1, seed=3, fmt="npy")
    with pytest.raises(InputError, match="no observer ROIs"):
        folder_training_set(root, "consensus")
