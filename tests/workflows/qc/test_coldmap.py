"""Cold-region map: family-wise significance over the places searched."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nmkit.io import load_image
from nmkit.phantoms.flood import FloodSpec, generate_floods
from nmkit.workflows.qc.coldmap import cold_region_map, expected_euler, filter_fwhm, standardised
from nmkit.workflows.qc.observer import MatchedFilterObserver

OBSERVER = MatchedFilterObserver(diameters=(10, 20), brushes=(2,))


def _floods(n, seed, **changes):
    spec = dataclasses.replace(FloodSpec(), **({"counts": 400.0, "defect_fraction": 0.0} | changes))
    return generate_floods(spec, n, seed)


def test_threshold_is_where_the_expected_euler_characteristic_is_alpha():
    cold = cold_region_map(_floods(1, 0)[0][0], OBSERVER)
    assert cold.regions == [] and 4.0 < cold.threshold < 5.5
    assert cold.places > 100


def test_finds_an_injected_cold_disc_where_it_is():
    images, records = _floods(1, 3, defect_fraction=1.0, defect_types=("cold_disc",), alphas=(0.08,), diameters=(30,))
    cold = cold_region_map(images[0], OBSERVER)
    assert len(cold.regions) == 1
    region = cold.regions[0]
    assert abs(region.row - records[0]["row"]) <= 6 and abs(region.col - records[0]["col"]) <= 6
    assert np.isnan(cold.significant).sum() > 0.9 * cold.significant.size


def test_empirical_null_never_narrower_than_poisson():
    rng = np.random.default_rng(0)
    assert np.nanstd(standardised(rng.normal(0, 3, (50, 50)))) == pytest.approx(1, abs=0.1)
    assert np.nanstd(standardised(rng.normal(0, 0.5, (50, 50)))) == pytest.approx(0.5, abs=0.05)


def test_smoother_filters_mean_fewer_places():
    assert filter_fwhm(10, 2) < filter_fwhm(20, 2) < filter_fwhm(40, 2)
    assert expected_euler(3.0, (1, 10, 100)) > expected_euler(5.0, (1, 10, 100))


def test_real_passing_flood_shows_no_significant_cold_region(shared_data):
    counts = load_image(shared_data / "flood" / "UNIFORMIDAD_1.dcm").plane()
    assert cold_region_map(counts, OBSERVER).regions == []
