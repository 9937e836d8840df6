"""Grade metrics on known examples and the folder evaluation on phantom scans."""

from __future__ import annotations

import numpy as np
import pytest

from nmkit.workflows.bonescan.evaluate import evaluate_folder, grade_metrics


def test_perfect_grading():
    m = grade_metrics(np.array([0, 1, 2, 3, 4]), np.array([0, 1, 2, 3, 4]))
    assert m["accuracy"] == 1.0 and m["qwk"] == 1.0 and m["macro_f1"] == 1.0
    assert m["confusion_matrix"] == np.eye(5, dtype=int).tolist()


def test_known_confusion():
    true, predicted = np.array([0, 0, 1, 1, 2, 4]), np.array([0, 1, 1, 1, 3, 4])
    m = grade_metrics(true, predicted)
    assert m["accuracy"] == round(4 / 6, 4)
    assert m["per_grade_sensitivity"] == {"normal": 0.5, "minimal": 1.0, "mild DJD": 0.0, "moderate DJD": None,
                                          "severe DJD": 1.0}
    # F1: normal 2/3, minimal 0.8, mild 0, moderate 0, severe 1 -> mean over the 5 grades present in either
    assert m["macro_f1"] == round((2 / 3 + 0.8 + 0 + 0 + 1) / 5, 4)
    assert m["confusion_matrix"][0] == [1, 1, 0, 0, 0] and m["confusion_matrix"][2] == [0, 0, 0, 1, 0]
    assert 0.8 < m["qwk"] < 1.0  # every miss is one grade off


def test_lengths_must_match():
    with pytest.raises(ValueError):
        grade_metrics(np.array([0, 1]), np.array([0]))


def test_evaluate_folder(scan_set, tiny_model, tmp_path):
    result = evaluate_folder(scan_set, tiny_model, out_dir=tmp_path)
    assert result["n_scans"] == 4 and 1 <= result["n_knees"] <= 8
    assert result["knee_localisation_within_10px"] == 1.0
    for key in ("accuracy", "qwk", "macro_f1", "per_grade_sensitivity", "confusion_matrix"):
        assert key in result
    assert sum(map(sum, result["confusion_matrix"])) == result["n_knees"]
    assert (tmp_path / "confusion.png").is_file()
