"""The matched-filter ideal observer on small phantom floods."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nmkit.phantoms.flood import FloodSpec, fov_mask, generate_floods
from nmkit.workflows.qc.observer import MatchedFilterObserver, detect_fov

SPEC = FloodSpec(shape=(64, 72), counts=1000.0, diameters=(15,), alphas=(0.15,), brushes=(2,), nonuniformity=0.0)
DIAMETERS = (9, 15, 21)


def _floods(n=2, seed=0, **changes):
    return generate_floods(dataclasses.replace(SPEC, **changes), n, seed)


def test_clear_defect_scores_far_above_normal():
    normal, _ = _floods(defect_fraction=0.0)
    cold, _ = _floods(defect_fraction=1.0)
    for observer in (MatchedFilterObserver(DIAMETERS), MatchedFilterObserver(DIAMETERS, expected=1000.0),
                     MatchedFilterObserver(DIAMETERS, background="mean")):
        s_normal, s_cold = observer.score(normal), observer.score(cold)
        assert s_normal.max() < 5.5 and s_cold.min() > 15, (s_normal, s_cold)


def test_statistic_map_peaks_at_the_defect():
    images, records = _floods(n=1, defect_fraction=1.0, seed=3)
    r = records[0]
    stat, diameter = MatchedFilterObserver(DIAMETERS).statistic_map(images[0])
    assert stat.shape == images[0].shape and stat.dtype == np.float32
    peak = np.unravel_index(np.nanargmax(stat), stat.shape)
    assert abs(peak[0] - r["row"]) <= 1 and abs(peak[1] - r["col"]) <= 1
    assert diameter in (9, 15, 21)
    # centres whose disc would leave the image are NaN, the rest finite
    half = diameter // 2 + 1
    assert np.isnan(stat[0]).all() and np.isfinite(stat[half:-half, half:-half]).all()


def test_statistic_is_standard_normal_on_flat_noise():
    """Known level: at each centre the statistic is (deficit . template) / Poisson sd, i.e. N(0, 1) without a defect."""
    images, _ = _floods(n=1, defect_fraction=0.0, counts=200.0, shape=(128, 128))
    stat, _ = MatchedFilterObserver((5,), brushes=(0,), expected=200.0).statistic_map(images[0])
    values = stat[np.isfinite(stat)]
    assert abs(values.mean()) < 0.15 and 0.9 < values.std() < 1.1


def test_scores_are_deterministic_and_independent_of_batching():
    images, _ = _floods(n=5, seed=4, defect_fraction=0.4)
    a = MatchedFilterObserver(DIAMETERS, batch_size=2).score(images)
    b = MatchedFilterObserver(DIAMETERS, batch_size=16, workers=1).score(images)
    assert np.allclose(a, b, rtol=1e-5)
    assert np.array_equal(a, MatchedFilterObserver(DIAMETERS, batch_size=2).score(images))
    assert a[0] == pytest.approx(MatchedFilterObserver(DIAMETERS).score(images[0])[0], rel=1e-5)


def test_circular_field_and_real_camera_edges():
    spec = dataclasses.replace(SPEC, shape=(72, 72), fov="circular", defect_fraction=0.0)
    images, _ = generate_floods(spec, 2, seed=5)
    mask = fov_mask((72, 72), "circular")
    assert np.array_equal(detect_fov(images[0]), mask)
    assert MatchedFilterObserver(DIAMETERS).score(images).max() < 5.5  # nothing blows up at the field's edge
    # A real camera's outermost pixels are only partly covered: they are peeled off, not flagged as cold.
    partial = images[0].copy()
    ring = mask & ~np.pad(mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:], 1)
    partial[ring] *= 0.5
    assert np.array_equal(detect_fov(partial), mask & ~ring)
    assert MatchedFilterObserver(DIAMETERS).score(partial)[0] < 5.5


def test_known_expected_image():
    spec = dataclasses.replace(SPEC, defect_fraction=0.0, nonuniformity=1.0)
    truth, _ = generate_floods(spec, 1, seed=6, noiseless=True)
    normal, _ = generate_floods(spec, 1, seed=6)
    cold, _ = generate_floods(dataclasses.replace(spec, defect_fraction=1.0), 1, seed=6)
    observer = MatchedFilterObserver(DIAMETERS, expected=truth[0])
    assert observer.score(normal)[0] < 5.5 and observer.score(cold)[0] > 15
    with pytest.raises(ValueError, match="match"):
        observer.score(np.ones((2, 10, 10)))


def test_rejects_bad_settings():
    with pytest.raises(ValueError):
        MatchedFilterObserver(brushes=(5,))
    with pytest.raises(ValueError):
        MatchedFilterObserver(background="median")
    with pytest.raises(ValueError, match="fits"):
        MatchedFilterObserver((75,)).score(np.ones((20, 20)))
