"""Seeded bootstrap intervals: the same seed gives the same interval, a clear difference excludes zero, noise does
not, and pairing removes what the units share."""

from __future__ import annotations

import numpy as np
import pytest

from nmkit.metrics.bootstrap import NO_DIFFERENCE, bootstrap_interval, paired_difference, verdict


def test_the_interval_holds_the_estimate_and_repeats_with_its_seed():
    values = np.random.default_rng(1).normal(5.0, 1.0, 40)
    first = bootstrap_interval(lambda idx: values[idx].mean(), len(values), seed=3, resamples=500)
    assert first.estimate == pytest.approx(values.mean()) and first.low < first.estimate < first.high
    assert first == bootstrap_interval(lambda idx: values[idx].mean(), len(values), seed=3, resamples=500)
    assert first.high - first.low == pytest.approx(2 * 1.96 * values.std() / np.sqrt(40), rel=0.3)


def test_pairing_shows_a_small_shift_that_the_spread_of_the_units_would_hide():
    units = np.random.default_rng(2).normal(0.0, 1.0, 30)  # what both methods share, unit by unit
    a, b = units + 0.05, units.copy()
    shift = paired_difference(a, b, resamples=500)
    assert shift.estimate == pytest.approx(0.05) and shift.low == pytest.approx(0.05) and verdict(shift) == "better"
    assert verdict(shift, higher_is_better=False) == "worse"
    noise = np.random.default_rng(4).normal(0.0, 1.0, 30)
    assert verdict(paired_difference(units + noise * 0.1, units + noise[::-1] * 0.1, resamples=500)) == NO_DIFFERENCE


def test_text_and_bad_input():
    interval = paired_difference([1.0, 2.0, 3.0], [0.5, 1.5, 2.0], resamples=200)
    assert interval.text("+.2f").startswith("+0.67 (95 % CI +0.50 to +")
    with pytest.raises(ValueError, match="at least 2 units"):
        bootstrap_interval(np.mean, 1)
    with pytest.raises(ValueError, match="same length"):
        paired_difference([1.0, 2.0], [1.0])


def test_a_statistic_every_resample_gives_alike_has_a_zero_width_interval():
    interval = bootstrap_interval(lambda idx: 1.0, 5, resamples=100)
    assert (interval.estimate, interval.low, interval.high) == (1.0, 1.0, 1.0) and verdict(interval) == "better"
