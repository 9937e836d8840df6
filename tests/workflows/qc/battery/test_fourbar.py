"""`FourBarQC` and `nmkit qc fourbar`: Gaussian lines of known FWHM at a known spacing, and the real image."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import nmkit
from nmkit.cli import app
from nmkit.errors import InputError
from nmkit.workflows.qc.battery.fourbar import FourBarQC

from .conftest import flood, four_bar, write_dicom

KEYS = {"x_fwhm_mm", "y_fwhm_mm", "x_fwtm_mm", "y_fwtm_mm", "x_pixel_mm", "y_pixel_mm"}


def test_noise_free_lines_give_their_fwhm_fwtm_and_pixel_size():
    # Drawn on 2.02 mm pixels while the header says 2.0: the 100 mm separation reveals the true size.
    r = FourBarQC(four_bar(true_mm=2.02, fwhm_mm=8.0, seed=None)).analyze().results_data()
    for axis in "xy":
        # The header's pixel converts widths, so they shrink by 2.0 / 2.02 (as in pylinac and NMQC).
        assert getattr(r, f"{axis}_fwhm_mm") == pytest.approx(8.0 * 2.0 / 2.02, rel=1e-3)
        assert getattr(r, f"{axis}_fwtm_mm") == pytest.approx(8.0 * 2.0 / 2.02 * 1.8226, rel=1e-3)
        assert getattr(r, f"{axis}_pixel_mm") == pytest.approx(2.02, rel=1e-4)
        assert getattr(r, f"{axis}_pixel_difference_pct") == pytest.approx(1.0, abs=0.01)


def test_poisson_lines_within_two_percent():
    r = FourBarQC(four_bar(fwhm_mm=10.0, peak=200.0, seed=3)).analyze().results_data()
    assert r.x_fwhm_mm == pytest.approx(10.0, rel=0.02) and r.y_fwhm_mm == pytest.approx(10.0, rel=0.02)
    assert r.x_pixel_mm == pytest.approx(2.0, rel=0.003) and r.y_pixel_mm == pytest.approx(2.0, rel=0.003)


def test_two_line_phantom_reports_one_axis():
    r = FourBarQC(four_bar(horizontal=False, seed=1)).analyze().results_data()
    assert r.x_fwhm_mm == pytest.approx(8.0, rel=0.03)
    assert r.y_fwhm_mm is None and r.y_pixel_mm is None


def test_flood_is_refused():
    with pytest.raises(InputError, match="no pair of line sources"):
        FourBarQC(flood()).analyze()


def test_cli_json_keys_figure_and_bad_input(tmp_path):
    runner = CliRunner()
    bars = write_dicom(tmp_path, "bars.dcm", four_bar(seed=2))
    result = runner.invoke(app, ["qc", "fourbar", str(bars), "--json", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert KEYS <= set(data) and data["x_fwhm_mm"] == pytest.approx(8.0, rel=0.03)
    assert (tmp_path / "out" / "bars.dcm.fourbar.png").stat().st_size > 0

    flat = write_dicom(tmp_path, "flood.dcm", flood())
    result = runner.invoke(app, ["qc", "fourbar", str(flat), "--json", "--out", str(tmp_path / "bad")])
    assert result.exit_code == 2
    assert "flood.dcm" in result.stderr and "four-bar or two-line" in result.stderr
    assert not (tmp_path / "bad").exists()


def test_real_four_bar_agrees_with_nmqc(shared_data):
    # NMQC's published values for this image (as pylinac's tests quote them): FWHM x 7.567, y 7.53 mm;
    # pixel size x 1.043 mm (+1.065 %), y 1.040 mm (+0.69 %) against the header's 1.0325 mm.
    r = FourBarQC(shared_data / "nmqc" / "FourBar.dcm").analyze().results_data()
    assert r.x_fwhm_mm == pytest.approx(7.567, rel=0.02) and r.y_fwhm_mm == pytest.approx(7.53, rel=0.02)
    assert r.x_pixel_mm == pytest.approx(1.0325 * 1.01065, rel=0.002)
    assert r.y_pixel_mm == pytest.approx(1.0325 * 1.0069, rel=0.002)


def test_real_two_line_images_measure_one_axis_each(shared_data):
    x = FourBarQC(shared_data / "nmqc" / "Spatial_Resol_X.dcm", separation_mm=50).analyze().results_data()
    y = FourBarQC(shared_data / "nmqc" / "Spatial_Resol_Y.dcm", separation_mm=50).analyze().results_data()
    assert x.y_fwhm_mm is None and 6 < x.x_fwhm_mm < 9
    assert y.x_fwhm_mm is None and 6 < y.y_fwhm_mm < 9


def test_file_without_pixel_size_uses_the_measured_one(tmp_path):
    # A .npy says nothing of its pixels (read as 1 mm); lines drawn on 2 mm pixels, 100 mm apart, FWHM 8 mm.
    path = tmp_path / "bars.npy"
    np.save(path, four_bar(true_mm=2.0, fwhm_mm=8.0, seed=None).array[0])
    qc = FourBarQC(path).analyze()
    r = qc.results_data()
    assert r.header_pixel_mm is None and r.x_pixel_difference_pct is None
    assert r.x_pixel_mm == pytest.approx(2.0, rel=1e-4) and r.x_fwhm_mm == pytest.approx(8.0, rel=1e-3)
    assert "the file gives none" in qc.results()


def test_library_shape_from_nmkit_with_an_array():
    array = four_bar(true_mm=2.0, fwhm_mm=8.0, seed=None).array[0]
    r = nmkit.FourBarQC(array, pixel_mm=2.0).analyze().results_data()
    assert r.header_pixel_mm == [2.0, 2.0] and r.x_fwhm_mm == pytest.approx(8.0, rel=1e-3)
    for name in ("FourBarQC", "QuadrantQC", "LinearityQC", "TomoUniformityQC", "TomoContrastQC"):
        assert all(hasattr(getattr(nmkit, name), m) for m in ("analyze", "results", "results_data",
                                                               "plot_analyzed_image"))
