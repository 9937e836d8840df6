"""Agreement between two methods or readers: Bland-Altman limits, Wilcoxon signed-rank test, Cohen's kappa."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy.stats import wilcoxon
from torchmetrics.functional.classification import multiclass_cohen_kappa


@dataclass
class BlandAltman:
    """Differences method - reference: bias (mean), sample SD, 95 % limits of agreement, mean absolute error."""

    n: int
    bias: float
    sd: float
    loa_low: float
    loa_high: float
    mae: float

    def as_dict(self) -> dict:
        return asdict(self)


def _pairs(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"the two series must be 1-D and the same length, got shapes {a.shape} and {b.shape}")
    if len(a) < 2:
        raise ValueError(f"agreement needs at least 2 pairs, got {len(a)}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("the series contain NaN or infinite values")
    return a, b


def bland_altman(method, reference) -> BlandAltman:
    """Bland-Altman agreement of ``method`` with ``reference``: limits are bias -/+ 1.96 SD (ddof=1)."""
    method, reference = _pairs(method, reference)
    diff = method - reference
    bias, sd = float(diff.mean()), float(diff.std(ddof=1))
    return BlandAltman(n=len(diff), bias=bias, sd=sd, loa_low=bias - 1.96 * sd, loa_high=bias + 1.96 * sd,
                       mae=float(np.abs(diff).mean()))


def wilcoxon_signed_rank(a, b) -> dict:
    """Two-sided Wilcoxon signed-rank test of the paired differences a - b (scipy; zero differences dropped).

    When every difference is zero there is nothing to test: statistic 0.0, p 1.0."""
    a, b = _pairs(a, b)
    if np.all(a == b):
        return {"statistic": 0.0, "p_value": 1.0, "n": len(a)}
    result = wilcoxon(a, b, alternative="two-sided")
    return {"statistic": float(result.statistic), "p_value": float(result.pvalue), "n": len(a)}


def cohen_kappa(a, b, num_classes: int, weights: str | None = None) -> float:
    """Cohen's kappa of two raters' grades 0..num_classes-1; ``weights`` None, "linear" or "quadratic" (torchmetrics).

    NaN when chance agreement is 1 (both raters give one and the same grade throughout)."""
    a, b = (torch.as_tensor(np.asarray(x, dtype=np.int64)) for x in (a, b))
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError("the two raters' grades must be 1-D, non-empty and the same length")
    if min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= num_classes:
        raise ValueError(f"grades must lie in 0..{num_classes - 1}")
    return float(multiclass_cohen_kappa(a, b, num_classes=num_classes, weights=weights))
