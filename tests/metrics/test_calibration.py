"""Temperature scaling, ECE and the reliability bins on exact synthetic logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nmkit.metrics.calibration import (
    expected_calibration_error,
    fit_temperature,
    mean_confidence,
    negative_log_likelihood,
    recorded_logits,
    reliability_bins,
    set_temperature,
    succession_temperature,
)


def _overconfident(n=4000, true_t=3.0, seed=0):
    """Logits whose labels are drawn from softmax(logits / true_t): the right temperature is true_t."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 4, (n, 3))
    p = np.exp(logits / true_t)
    p /= p.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(3, p=row) for row in p])
    return logits, labels


def test_fit_temperature_recovers_the_generating_temperature_and_lowers_nll():
    logits, labels = _overconfident()
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(3.0, rel=0.1)
    assert negative_log_likelihood(logits, labels, t) < negative_log_likelihood(logits, labels)


def test_a_validation_set_all_right_gets_the_rule_of_succession_confidence():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0], [4.0, 1.0, 0.0]])
    labels = logits.argmax(1)
    assert fit_temperature(logits, labels) is None  # NLL keeps falling as T -> 0
    t = succession_temperature(logits)
    assert t < 1 and mean_confidence(logits, t) == pytest.approx(5 / 6, abs=1e-6)  # underconfident: sharpened
    assert succession_temperature(logits * 10) > 1  # overconfident: softened


def test_ece_is_zero_for_calibrated_confidence_and_large_for_overconfidence():
    labels = np.array([1] * 80 + [0] * 20)
    assert expected_calibration_error(np.full(100, 0.8), labels) == pytest.approx(0.0, abs=1e-6)
    assert expected_calibration_error(np.full(100, 0.99), labels) == pytest.approx(0.19, abs=1e-3)
    bins = reliability_bins(np.full(100, 0.8), labels)
    assert bins == [{"low": 0.7333, "high": 0.8, "confidence": 0.8, "accuracy": 0.8, "n": 100}]


def test_set_temperature_divides_the_output_and_one_removes_it():
    model = nn.Linear(2, 2)
    x = torch.ones(1, 2)
    raw = model(x)
    set_temperature(model, 2.0)
    assert torch.allclose(model(x), raw / 2)
    set_temperature(model, 4.0)  # replaces, never stacks
    assert torch.allclose(model(x), raw / 4)
    set_temperature(model, 1.0)
    assert torch.allclose(model(x), raw)
    with recorded_logits(model) as out:
        model(x)
    assert len(out) == 1 and torch.allclose(out[0], raw)
