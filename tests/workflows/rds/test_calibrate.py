"""Calibration of rds classifiers: temperature scaling, Youden threshold, ECE, and the joined ensemble bundle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nmkit.models import create_model, load_bundle, save_bundle
from nmkit.workflows.rds.calibrate import (ensemble, expected_calibration_error, fit_temperature, logits_of,
                                           probabilities, youden_threshold)


def test_fit_temperature_undoes_overconfident_logits():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 4000)
    margin = np.where(labels == 1, 1.0, -1.0) + rng.normal(0, 1.0, 4000)  # calibrated at temperature 1 ...
    logits = np.stack([-margin, margin], 1) * 3.0  # ... made three times too confident
    temperature = fit_temperature(logits, labels)
    assert 2.6 < temperature < 3.4
    assert expected_calibration_error(probabilities(logits, temperature), labels) < \
        expected_calibration_error(probabilities(logits), labels)


def test_youden_threshold_separates_and_ece_of_perfect_calls_is_zero():
    scores, labels = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9]), np.array([0, 0, 0, 1, 1, 1])
    assert youden_threshold(scores, labels) == pytest.approx(0.45)
    assert expected_calibration_error(np.array([0.0, 1.0]), np.array([0, 1])) == 0.0


def test_ensemble_bundle_averages_members_and_records_its_calibration(tmp_path):
    torch.manual_seed(0)
    kwargs = {"width": 4, "work_size": 16}
    info = {"config": {"task": "classification", "data": {"input": "whole", "label_column": "pneumonia"}}}
    members = [save_bundle(tmp_path / f"m{i}.pt", "rds-cnn-small", kwargs, create_model("rds-cnn-small", **kwargs),
                           info) for i in range(2)]
    images = np.random.default_rng(1).random((20, 16, 16)).astype(np.float32)
    labels = np.arange(20) % 2
    path, calibration = ensemble(members, images, labels, tmp_path / "joined.pt")
    model, joined_info = load_bundle(path)
    assert joined_info["calibration"] == calibration and calibration["members"] == 2
    assert joined_info["config"]["data"]["label_column"] == "pneumonia"
    mean = np.mean([logits_of(load_bundle(m)[0], images) for m in members], axis=0)
    assert np.allclose(logits_of(model, images), mean / calibration["temperature"], atol=1e-5)
