"""benchmarks/common.py: the AUC interval that the qc benchmark puts on every AUC and CNN - observer difference."""

from __future__ import annotations

import numpy as np
import pytest
from common import auc_interval

from nmkit.metrics.classification import auc


def scored(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.5).astype(int)
    return labels, labels + rng.normal(size=n), np.round(0.5 * labels + rng.normal(size=n), 1)  # the second has ties


def test_auc_interval_estimates_the_auc_and_brackets_it():
    labels, good, tied = scored()
    for scores in (good, tied):
        interval = auc_interval(labels, scores)
        assert interval.estimate == pytest.approx(auc(scores, labels), abs=1e-6)
        assert interval.low < interval.estimate < interval.high


def test_paired_difference_sees_a_real_gap_and_none_between_equals():
    labels, good, tied = scored()
    gap = auc_interval(labels, good, tied)
    assert gap.estimate == pytest.approx(auc(good, labels) - auc(tied, labels), abs=1e-6) and gap.low > 0
    same = auc_interval(labels, good, good)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)
    assert auc_interval(labels, good, seed=1) == auc_interval(labels, good, seed=1)


def test_one_class_short_is_refused():
    with pytest.raises(ValueError, match="at least 2 images of each class"):
        auc_interval([1, 0, 0], [0.9, 0.1, 0.2])
