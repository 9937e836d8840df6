"""Seeded 95 % bootstrap intervals over the units of a test set (patients, studies, images), paired where two
methods are scored on the same units, and the verdict a difference supports."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import warnings

import numpy as np
from scipy.stats import DegenerateDataWarning, bootstrap

RESAMPLES = 2000
NO_DIFFERENCE = "no difference shown"


@dataclass(frozen=True)
class Interval:
    """A statistic on the whole set and its percentile bootstrap interval."""

    estimate: float
    low: float
    high: float
    confidence: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def text(self, fmt: str = "+.4f", scale: float = 1.0, unit: str = "") -> str:
        """``+0.0123 (95 % CI +0.0010 to +0.0236)``, values times ``scale`` followed by ``unit``."""
        return (f"{self.estimate * scale:{fmt}}{unit} ({100 * self.confidence:g} % CI {self.low * scale:{fmt}} to "
                f"{self.high * scale:{fmt}}{unit})")

    def as_dict(self) -> dict:
        return asdict(self)


def bootstrap_interval(statistic: Callable[[np.ndarray], float], n: int, *, seed: int = 0,
                       resamples: int = RESAMPLES, confidence: float = 0.95) -> Interval:
    """Percentile interval of ``statistic(indices)`` over ``resamples`` draws of ``n`` unit indices with replacement.

    ``statistic`` takes an index array into the units (patients, studies, images), so anything measured per unit
    (a mean, a median over the lesions of the drawn patients, an AUC, a paired difference) resamples whole units."""
    if n < 2:
        raise ValueError(f"a bootstrap needs at least 2 units, got {n}")
    units = np.arange(n)
    with warnings.catch_warnings():  # a statistic every resample gives alike (accuracy 1.0) has a zero-width
        warnings.simplefilter("ignore", DegenerateDataWarning)  # interval, which scipy returns but warns about
        result = bootstrap((units,), lambda idx: statistic(np.asarray(idx, dtype=int)), n_resamples=resamples,
                           vectorized=False, method="percentile", confidence_level=confidence,
                           rng=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return Interval(float(statistic(units)), float(low), float(high), confidence)


def paired_difference(a: Sequence[float], b: Sequence[float], statistic: Callable[[np.ndarray], float] = np.mean,
                      **kwargs) -> Interval:
    """``statistic(a) - statistic(b)`` over the same units (a[i] and b[i] measured on unit i), resampled in pairs."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"the two series must be 1-D and the same length, got shapes {a.shape} and {b.shape}")
    return bootstrap_interval(lambda idx: float(statistic(a[idx]) - statistic(b[idx])), len(a), **kwargs)


def verdict(difference: Interval, higher_is_better: bool = True) -> str:
    """"better" or "worse" where the interval of (method - other) excludes zero, else "no difference shown"."""
    if not difference.excludes_zero:
        return NO_DIFFERENCE
    return "better" if (difference.estimate > 0) == higher_is_better else "worse"
