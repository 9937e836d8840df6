"""The battery classes in the library shape: `from nmkit import ...`, a numpy array with its pixel size in."""

from __future__ import annotations

import numpy as np
import pytest

import nmkit
from nmkit.phantoms.camera import decaying_source_series, point_source_projections, sensitivity_source


def test_battery_classes_come_from_nmkit_and_take_arrays():
    frames, truth = decaying_source_series(n_frames=40)
    rate = nmkit.CountRateQC(frames, frame_s=10.0).analyze().results_data()
    assert rate.max_cps == pytest.approx(truth.frame_cps.max()) and rate.file == "array"
    dish = nmkit.SensitivityQC(sensitivity_source(30000), activity_mbq=1.0, half_life=1e12, duration_s=300.0)
    assert dish.analyze().results_data().sensitivity_cps_per_mbq == pytest.approx(100.0)
    projections, angles, _ = point_source_projections(n_views=16, offsets_mm=(2.0,))
    cor = nmkit.CenterOfRotationQC(projections, angles_deg=angles, pixel_mm=4.0)
    assert cor.analyze().results_data().offset_mm == pytest.approx(2.0, abs=1e-2)
    for name in ("CountRateQC", "SensitivityQC", "CenterOfRotationQC"):
        assert all(hasattr(getattr(nmkit, name), m) for m in ("analyze", "results", "results_data", "per_head",
                                                              "plot_analyzed_image"))
    assert np.isfinite(cor.results_data().x_deviation_mm)
