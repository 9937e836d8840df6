"""`QuadrantQC` and `nmkit qc quadrant`: blurred bars of known width and FWHM, and the real image."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from nmkit.cli import app
from nmkit.errors import InputError
from nmkit.workflows.qc.battery.quadrant import QuadrantQC, moment_fwhm, moment_mtf

from .conftest import flood, quadrant_bars, square_bar_mtf, write_dicom

WIDTHS = (4.0, 3.0, 2.5, 2.0)
SMALL_ROIS = {"roi_radius_mm": 35.0, "roi_distance_mm": 70.0}


def test_moment_formulas():
    # A sinusoid of modulation m on mean u has variance u (Poisson) + (m u)^2 / 2.
    assert moment_mtf(100.0, 100.0 + 0.5 * (0.4 * 100.0) ** 2) == pytest.approx(0.4)
    assert moment_mtf(100.0, 90.0) == 0.0  # no excess over Poisson noise: unresolved
    assert moment_fwhm(3.0, 1.0) is None and moment_fwhm(3.0, 0.0) is None


def test_sinusoidal_bars_give_the_gaussian_mtf_and_fwhm():
    # Modulation = exp(-2 (pi sigma f)^2) exactly, so Hander's FWHM is the Gaussian's (to his 1.058 constant).
    r = QuadrantQC(quadrant_bars(WIDTHS, fwhm_mm=3.0, sine=True, mean=400.0), list(WIDTHS), **SMALL_ROIS) \
        .analyze().results_data()
    assert [q["bar_width_mm"] for q in r.quadrants] == sorted(WIDTHS, reverse=True)
    sigma = 3.0 / 2.3548
    for q in r.quadrants:
        expected = np.exp(-2 * (np.pi * sigma / (2 * q["bar_width_mm"])) ** 2)
        assert q["mtf"] == pytest.approx(expected, abs=0.02)
        assert q["fwhm_mm"] == pytest.approx(3.0 * 1.058 / 1.0601, rel=0.06)
        assert q["measured_bar_width_mm"] == pytest.approx(q["bar_width_mm"], rel=0.1)


def test_square_bars_in_any_orientation_are_matched_by_their_period():
    # Widths placed in scrambled quadrants; the analysis still pairs each with its own quadrant.
    placed = (2.5, 4.0, 2.0, 3.0)
    r = QuadrantQC(quadrant_bars(placed, fwhm_mm=4.0, seed=1), [2.0, 2.5, 3.0, 4.0], **SMALL_ROIS) \
        .analyze().results_data()
    for q in r.quadrants:
        assert q["mtf"] == pytest.approx(square_bar_mtf(q["bar_width_mm"], 4.0), abs=0.02)


def test_flood_and_wrong_widths_are_refused():
    with pytest.raises(InputError, match="no bars of the widths given"):
        QuadrantQC(flood(size=256, pixel_mm=1.0), list(WIDTHS), **SMALL_ROIS).analyze()
    with pytest.raises(InputError, match="no bars of the widths given"):
        QuadrantQC(quadrant_bars(WIDTHS), [8.0, 6.0, 5.0, 4.0], **SMALL_ROIS).analyze()
    with pytest.raises(InputError, match="four positive bar widths"):
        QuadrantQC(quadrant_bars(WIDTHS), [4.0, 3.0])


def test_cli_json_keys_figure_and_bad_input(tmp_path):
    runner = CliRunner()
    bars = write_dicom(tmp_path, "bars.dcm", quadrant_bars(WIDTHS, fwhm_mm=3.0))
    args = ["--bar-widths", "4,3,2.5,2", "--roi-radius-mm", "35", "--roi-distance-mm", "70", "--json"]
    result = runner.invoke(app, ["qc", "quadrant", str(bars), *args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    quadrants = json.loads(result.stdout)["quadrants"]
    assert [q["bar_width_mm"] for q in quadrants] == [4.0, 3.0, 2.5, 2.0]
    assert {"bar_width_mm", "mtf", "fwhm_mm"} <= set(quadrants[0])
    assert (tmp_path / "out" / "bars.dcm.quadrant.png").stat().st_size > 0

    flat = write_dicom(tmp_path, "flood.dcm", flood(size=256, pixel_mm=1.0))
    result = runner.invoke(app, ["qc", "quadrant", str(flat), *args, "--out", str(tmp_path / "bad")])
    assert result.exit_code == 2 and "flood.dcm" in result.stderr
    assert not (tmp_path / "bad").exists()


def test_real_quadrant_bar_agrees_with_nmqc(shared_data):
    # NMQC's values for this image (quoted in pylinac's tests): MTF 0.64, 0.462, 0.30, 0.202; FWHM 2.995,
    # 2.962, 2.954, 2.843 mm for bars of 4.23, 3.18, 2.54, 2.12 mm.
    r = QuadrantQC(shared_data / "nmqc" / "QuadrantBar.dcm", [4.23, 3.18, 2.54, 2.12]).analyze().results_data()
    assert [q["mtf"] for q in r.quadrants] == pytest.approx([0.64, 0.462, 0.30, 0.202], abs=0.01)
    assert [q["fwhm_mm"] for q in r.quadrants] == pytest.approx([2.995, 2.962, 2.954, 2.843], abs=0.05)


def test_file_without_pixel_size_is_refused(tmp_path):
    path = tmp_path / "bars.npy"
    np.save(path, quadrant_bars(WIDTHS).array[0])
    with pytest.raises(InputError, match="does not give its pixel size"):
        QuadrantQC(path, list(WIDTHS))
