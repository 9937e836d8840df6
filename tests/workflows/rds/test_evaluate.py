"""The analysis of one radiograph: lungs, P(RDS) and the domain check of both models."""

from __future__ import annotations

import shutil

import numpy as np
import torch

from nmkit.metrics.ood import FeatureGaussian, deepest_layer, ood_path, pooled_features, weights_hash
from nmkit.phantoms.chest import ChestSpec, generate_chest_xray, to_png8
from nmkit.workflows.rds.evaluate import analyse_radiograph, default_model_paths, load_rds_models
from nmkit.workflows.rds.postprocess import PostProcess


def test_the_lung_classifier_fit_reports_its_distance_and_marks_p_rds(tiny_models, tmp_path):
    lungs = shutil.copyfile(tiny_models["lungs"], tmp_path / "lungs.pt")
    models = load_rds_models([default_model_paths()[0], lungs])
    classifier = models["lungs"][0]
    x = torch.zeros(1, 1, 32, 32)
    layer = deepest_layer(classifier, lambda: classifier(x))
    far = pooled_features(classifier, layer, lambda: classifier(x))[0] + 100.0
    FeatureGaussian(layer, far, np.eye(len(far)), 1.0, 99.0, weights_hash(classifier)).save(ood_path(lungs))
    grey = to_png8(generate_chest_xray(ChestSpec(shape=(128, 128)), 0, 0).pixels)
    mask, probability, _, check = analyse_radiograph(models, grey, PostProcess(), "cxr.png")
    assert mask.any() and 0 <= probability <= 1
    assert check.ood_distance > 50 and check.ood_threshold == 1.0
    assert not check.in_domain and any("unlike the training data" in note for note in check.notes)
