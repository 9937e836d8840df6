"""Binary classification metrics on torchmetrics: confusion matrix, sensitivity, specificity, ROC, AUC."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torchmetrics.functional.classification import binary_auroc, binary_confusion_matrix, binary_roc


@dataclass
class BinaryReport:
    """Operating-point and ranking metrics; sensitivity = TP/(TP+FN) on positives (defects)."""

    n: int
    accuracy: float
    sensitivity: float
    specificity: float
    auc: float
    tn: int
    fp: int
    fn: int
    tp: int
    threshold: float

    def as_dict(self) -> dict:
        return asdict(self)


def _tensors(scores, labels) -> tuple[torch.Tensor, torch.Tensor]:
    s = torch.as_tensor(np.asarray(scores, dtype=np.float64))
    y = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError("scores and labels must be 1-D and the same length")
    return s, y


def auc(scores, labels) -> float:
    """Area under the ROC curve (NaN when only one class is present)."""
    s, y = _tensors(scores, labels)
    if y.min() == y.max():
        return float("nan")
    return float(binary_auroc(s, y))


def binary_report(scores, labels, threshold: float = 0.5) -> BinaryReport:
    """Metrics for calling ``score >= threshold`` positive."""
    s, y = _tensors(scores, labels)
    calls = (s >= threshold).long()
    (tn, fp), (fn, tp) = binary_confusion_matrix(calls, y).tolist()
    return BinaryReport(
        n=len(y), accuracy=(tp + tn) / max(len(y), 1), sensitivity=tp / max(tp + fn, 1) if tp + fn else float("nan"),
        specificity=tn / max(tn + fp, 1) if tn + fp else float("nan"), auc=auc(scores, labels),
        tn=tn, fp=fp, fn=fn, tp=tp, threshold=float(threshold))


def roc_curve(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates along the ROC curve."""
    s, y = _tensors(scores, labels)
    fpr, tpr, _ = binary_roc(s, y)
    return fpr.numpy(), tpr.numpy()


def best_threshold(scores, labels) -> tuple[float, float]:
    """(threshold, accuracy) that maximise the accuracy of calling ``score >= threshold`` a defect.

    Fit it on training scores, then apply the threshold to test scores."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    if scores.shape != labels.shape or scores.ndim != 1 or not len(scores):
        raise ValueError("scores and labels must be 1-D, non-empty and the same length")
    cuts = np.unique(scores)
    negatives, positives = np.sort(scores[~labels]), np.sort(scores[labels])
    # Calling score >= cuts[k] positive: true negatives are negatives below the cut, true positives the rest.
    tn = np.searchsorted(negatives, cuts, side="left")
    tp = len(positives) - np.searchsorted(positives, cuts, side="left")
    correct = np.append(tn + tp, len(negatives))  # the last option: call everything normal
    k = int(np.argmax(correct))
    if k == len(cuts):
        threshold = np.inf
    elif k == 0:
        threshold = float(cuts[0])
    else:
        threshold = float((cuts[k - 1] + cuts[k]) / 2)
    return threshold, float(correct[k] / len(scores))
