"""`LinearityQC` and `nmkit qc linearity`: slit grids of known FWHM, spacing and bend, and the real images."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from nmkit.cli import app
from nmkit.errors import InputError
from nmkit.workflows.qc.battery.linearity import LinearityQC

from .conftest import flood, slit_grid, write_dicom

KEYS = {"direction", "ufov_fwhm_mm", "ufov_fwtm_mm", "ufov_absolute_linearity_mm", "ufov_differential_linearity_mm",
        "cfov_fwhm_mm", "cfov_fwtm_mm", "cfov_absolute_linearity_mm", "cfov_differential_linearity_mm"}


@pytest.mark.parametrize("horizontal", [True, False])
def test_straight_slits_give_their_fwhm_and_no_nonlinearity(horizontal):
    r = LinearityQC(slit_grid(fwhm_mm=4.0, horizontal=horizontal)).analyze().results_data()
    assert (r.direction, r.lines) == (("x", "horizontal") if horizontal else ("y", "vertical"))
    assert r.n_lines == 7  # of 9: the outermost two mark the field's edge, outside the UFOV (95 %)
    for fov in ("ufov", "cfov"):
        assert getattr(r, f"{fov}_fwhm_mm") == pytest.approx(4.0, rel=0.03)
        assert getattr(r, f"{fov}_fwtm_mm") == pytest.approx(4.0 * 1.8226, rel=0.03)
        assert getattr(r, f"{fov}_absolute_linearity_mm") < 0.1


def test_a_bent_slit_shows_as_absolute_and_differential_nonlinearity():
    straight = LinearityQC(slit_grid()).analyze().results_data()
    bent = LinearityQC(slit_grid(bump_mm=1.0)).analyze().results_data()
    # A 1 mm bump (sigma 40 mm) sampled in 30 mm bins: after the straight-line fit, most of it remains.
    assert 0.5 < bent.ufov_absolute_linearity_mm <= 1.0
    assert bent.ufov_differential_linearity_mm > straight.ufov_differential_linearity_mm + 0.2
    assert bent.ufov_fwhm_mm == pytest.approx(straight.ufov_fwhm_mm, rel=0.02)


def test_flood_is_refused():
    with pytest.raises(InputError, match="fewer than 3 parallel lines"):
        LinearityQC(flood()).analyze()


def test_cli_json_keys_figure_and_bad_input(tmp_path):
    runner = CliRunner()
    slits = write_dicom(tmp_path, "slits.dcm", slit_grid(horizontal=False))
    result = runner.invoke(app, ["qc", "linearity", str(slits), "--json", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert KEYS <= set(data) and data["direction"] == "y"
    assert (tmp_path / "out" / "slits.dcm.linearity.png").stat().st_size > 0

    flat = write_dicom(tmp_path, "flood.dcm", flood())
    result = runner.invoke(app, ["qc", "linearity", str(flat), "--json", "--out", str(tmp_path / "bad")])
    assert result.exit_code == 2 and "flood.dcm" in result.stderr
    assert not (tmp_path / "bad").exists()


def test_real_slit_images_direction_from_the_image_not_the_description(shared_data):
    lin_x = LinearityQC(shared_data / "nmqc" / "Lin_X").analyze()
    lin_y = LinearityQC(shared_data / "nmqc" / "Lin_Y").analyze()
    # The descriptions are swapped (Lin_X says LIN_Y); the lines themselves decide.
    assert lin_x.image.metadata["series_description"].startswith("LIN_Y")
    assert (lin_x.results_data().direction, lin_y.results_data().direction) == ("x", "y")
    for r in (lin_x.results_data(), lin_y.results_data()):
        assert 2.5 < r.ufov_fwhm_mm < 4.0 and r.ufov_absolute_linearity_mm < 1.0
