"""Feature-space Mahalanobis OOD check: fit, threshold, storage beside a bundle, weights hash."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nmkit.metrics.ood import (
    DomainCheck,
    FeatureGaussian,
    deepest_layer,
    domain_check,
    ledoit_wolf,
    ood_path,
    pooled_features,
    weights_hash,
)


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2, padding=1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 2)).eval()


def test_ledoit_wolf_shrinks_toward_the_scaled_identity():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (20, 10))
    shrunk = ledoit_wolf(x - x.mean(0))
    sample = np.cov(x.T, bias=True)
    assert np.linalg.cond(shrunk) < np.linalg.cond(sample)
    assert np.trace(shrunk) == pytest.approx(np.trace(sample))


def test_fit_flags_far_inputs_and_keeps_the_training_percentile():
    rng = np.random.default_rng(1)
    train = [rng.normal(0, 1, (3, 5)) for _ in range(200)]
    fit = FeatureGaussian.fit(train, "layer", "hash", percentile=95)
    assert np.mean(fit.scores(train) > fit.threshold) == pytest.approx(0.05, abs=0.01)
    assert fit.scores([np.full((1, 5), 8.0)])[0] > fit.threshold


def test_a_held_out_set_sets_the_threshold_where_new_inputs_fall():
    rng = np.random.default_rng(2)
    train = [rng.normal(0, 1, (1, 20)) for _ in range(30)]  # few inputs, many features: overfitted distances
    new = [rng.normal(0, 1, (1, 20)) for _ in range(200)]
    in_sample = FeatureGaussian.fit(train, "layer", "hash", percentile=95)
    held = FeatureGaussian.fit(train, "layer", "hash", percentile=95, held_out=new[:100])
    assert held.threshold > in_sample.threshold
    assert np.mean(held.scores(new[100:]) > held.threshold) < 0.15 < np.mean(in_sample.scores(new[100:]) > in_sample.threshold)


def test_a_later_check_adds_its_notes_and_reports_its_distance():
    first, later = DomainCheck(["lungs too small"], 1.0, 5.0), DomainCheck(["unlike the training data"], 9.0, 4.0)
    first.join(later)
    assert first.notes == ["lungs too small", "unlike the training data"] and first.as_dict()["ood_distance"] == 9.0
    first.join(DomainCheck([]))
    assert first.ood_threshold == 4.0 and not first.in_domain


def test_deepest_layer_and_pooled_features():
    net = _net()
    x = torch.zeros(2, 1, 8, 8)
    assert deepest_layer(net, lambda: net(x)) == "4"  # the 1x1 pool is the smallest map
    assert pooled_features(net, "2", lambda: net(x)).shape == (2, 6)


def test_domain_check_uses_a_fit_only_for_the_same_weights(tmp_path):
    net = _net()
    bundle = tmp_path / "m.pt"
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    feats = [pooled_features(net, "2", lambda: net(x[i:i + 1])) for i in range(4)]
    FeatureGaussian.fit(feats * 5, "2", weights_hash(net), 99).save(ood_path(bundle))
    assert ood_path(bundle).name == "m.ood.pt"
    copy = FeatureGaussian.load(ood_path(bundle)).save(tmp_path / "other name.ood.pt")
    assert copy.read_bytes() == ood_path(bundle).read_bytes()  # same fit, same bytes, whatever the file name
    check, out = domain_check(net, {"model_path": str(bundle)}, lambda: net(x[:1]))
    assert out.shape == (1, 2) and check.in_domain and check.ood_distance is not None
    far, _ = domain_check(net, {"model_path": str(bundle)}, lambda: net(x[:1] * 1000))
    assert not far.in_domain and "unlike the training data" in far.notes[0]
    other = _net()
    with torch.no_grad():
        other[0].bias += 1
    unchecked, _ = domain_check(other, {"model_path": str(bundle)}, lambda: other(x[:1]))
    assert unchecked.ood_distance is None and unchecked.in_domain


def test_domain_check_reports_notes():
    check = DomainCheck([])
    check.require(False, "two knees not found")
    assert check.as_dict() == {"in_domain": False, "domain_notes": ["two knees not found"], "ood_distance": None,
                               "ood_threshold": None}
