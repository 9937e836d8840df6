from __future__ import annotations

import numpy as np
import pytest

from nmkit.metrics.classification import auc, best_threshold, binary_report, roc_curve


def test_binary_report_counts_and_rates():
    scores = [0.9, 0.8, 0.3, 0.6, 0.1, 0.2]
    labels = [1, 1, 1, 0, 0, 0]
    r = binary_report(scores, labels, threshold=0.5)
    assert (r.tn, r.fp, r.fn, r.tp) == (2, 1, 1, 2)
    assert r.sensitivity == pytest.approx(2 / 3)  # TP / (TP + FN): defects found
    assert r.specificity == pytest.approx(2 / 3)  # TN / (TN + FP): normals passed
    assert r.accuracy == pytest.approx(4 / 6)
    # AUC by hand: positive-negative pairs ranked correctly = 8 of 9
    assert r.auc == pytest.approx(8 / 9)


def test_auc_perfect_and_single_class():
    assert auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert np.isnan(auc([0.1, 0.2], [1, 1]))


def test_roc_curve_ends_at_corners():
    fpr, tpr = roc_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1


def test_best_threshold_maximises_accuracy():
    scores = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    labels = np.array([0, 0, 1, 0, 1, 1])
    threshold, accuracy = best_threshold(scores, labels)
    assert accuracy == pytest.approx(5 / 6)
    assert 2.0 < threshold <= 3.0 or 4.0 < threshold <= 5.0
    assert ((scores >= threshold) == labels).mean() == pytest.approx(accuracy)


def test_best_threshold_handles_ties_and_one_class():
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    labels = np.array([0, 0, 1, 0, 1, 1])
    threshold, accuracy = best_threshold(scores, labels)
    assert accuracy == pytest.approx(5 / 6) and 0.2 < threshold <= 0.3 or 0.4 < threshold <= 0.5
    assert ((scores >= threshold) == labels).mean() == pytest.approx(accuracy)
    assert best_threshold(np.array([1.0, 2.0]), np.array([0, 1]))[1] == 1.0
    assert best_threshold(np.array([1.0, 2.0]), np.array([0, 0])) == (np.inf, 1.0)
