"""`nmkit qc countrate | sensitivity | cor`: JSON per head, figures in --out, results in the QC history, bad
input -> one sentence, exit 2, nothing written; `nmkit qc check` gives one check per head of a dual-head flood."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from nmkit.cli import app
from nmkit.phantoms.camera import (
    decaying_source_series,
    point_source_projections,
    sensitivity_source,
    write_dynamic,
    write_projections,
    write_static,
)
from nmkit.phantoms.flood import FloodSpec, generate_floods
from nmkit.workflows.qc.history import FloodHistory, database_url

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["qc", *map(str, args)])


def lines(result):
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.strip().splitlines()]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("battery")
    frames, _ = decaying_source_series(n_frames=60)
    projections, _, _ = point_source_projections(n_views=32, offsets_mm=(1.0, -2.0))
    return {"countrate": write_dynamic(folder / "cr.dcm", frames, 10.0),
            "sensitivity": write_static(folder / "src.dcm", sensitivity_source(60000), 300.0),
            "cor": write_projections(folder / "cor.dcm", projections, 32, 360.0, heads=2)}


def test_each_command_prints_one_json_per_head_writes_its_figure_and_stores_it(files, tmp_path):
    data = tmp_path / "data"
    cr = lines(invoke("countrate", files["countrate"], "--nuclide", "Tc-99m", "--json", "--out", tmp_path / "o",
                      "--data-dir", data))
    assert [r["max_frame"] for r in cr] == [int(np.argmax(r["cps"])) for r in cr] and cr[0]["history_id"] == 1
    assert {"max_cps", "max_frame", "cps", "cps_at_20pct_loss", "frame_s"} <= set(cr[0])
    sens = lines(invoke("sensitivity", files["sensitivity"], "--activity-mbq", 2, "--nuclide", "I-131", "--json",
                        "--out", tmp_path / "o", "--data-dir", data))
    assert sens[0]["sensitivity_cps_per_mbq"] == pytest.approx(100.0 / sens[0]["decay_factor"], rel=1e-5)
    assert {"source_cps", "background_cps", "decay_factor"} <= set(sens[0])
    cor = lines(invoke("cor", files["cor"], "--json", "--out", tmp_path / "o", "--data-dir", data))
    assert [(r["detector"], r["offset_mm"]) for r in cor] == [("1", pytest.approx(1.0, abs=0.01)),
                                                             ("2", pytest.approx(-2.0, abs=0.01))]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "cor.dcm.head1.cor.png", "cor.dcm.head2.cor.png", "cr.dcm.countrate.png", "src.dcm.sensitivity.png"]
    stored = FloodHistory(database_url(data)).battery()
    rows = {(r["test"], r["detector"]): r for r in stored}
    assert sorted(rows) == [("cor", "1"), ("cor", "2"), ("countrate", "1"), ("sensitivity", "1")]
    assert {r["station_name"] for r in stored} == {"CAMERA1"}
    assert rows["cor", "1"]["metrics"]["offset_mm"] == cor[0]["offset_mm"]
    assert "max_frame" not in rows["countrate", "1"]["metrics"]
    text = invoke("cor", files["cor"], "--out", tmp_path / "o")
    assert text.exit_code == 0 and "head 2" in text.stdout


@pytest.mark.parametrize(("command", "options", "message"), [
    ("countrate", [], "STATIC image, not a dynamic acquisition"),
    ("sensitivity", ["--activity-mbq", "-1", "--nuclide", "Tc-99m"], "positive number of MBq"),
    ("sensitivity", ["--activity-mbq", "1", "--nuclide", "Xx-1"], "unknown nuclide"),
    ("cor", [], "does not give its projection angles"),
])
def test_bad_input_is_one_sentence_exit_2_and_nothing_written(files, tmp_path, command, options, message):
    result = invoke(command, files["sensitivity"], *options, "--out", tmp_path / "o", "--data-dir", tmp_path / "d")
    assert result.exit_code == 2 and message in result.output and result.output.count("\n") == 1
    assert not (tmp_path / "o").exists() and not (tmp_path / "d" / "nmkit.db").exists()


def test_check_gives_one_result_per_head_of_a_dual_head_flood(tmp_path, tiny_model):
    spec = dataclasses.replace(FloodSpec(), counts=300.0, shape=(96, 96), defect_fraction=0.0)
    floods, _ = generate_floods(spec, 2, 0)
    path = write_static(tmp_path / "flood2.dcm", floods, 600.0)
    results = lines(invoke("check", path, "--model", tiny_model, "--json", "--out", tmp_path / "maps",
                           "--data-dir", tmp_path / "d"))
    assert [r["detector"] for r in results] == ["1", "2"] and results[0]["ufov_iu"] != results[1]["ufov_iu"]
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == ["flood2.dcm.head1.qc.png",
                                                                   "flood2.dcm.head2.qc.png"]
    assert [c["detector"] for c in FloodHistory(database_url(tmp_path / "d")).checks()] == ["1", "2"]


def test_the_imaging_tests_store_their_numbers_too(shared_data, tmp_path):
    result = lines(invoke("fourbar", shared_data / "nmqc" / "FourBar.dcm", "--json", "--data-dir", tmp_path / "d"))
    stored = FloodHistory(database_url(tmp_path / "d")).battery()
    assert result[0]["history_id"] == 1 and [r["test"] for r in stored] == ["fourbar"]
    assert stored[0]["metrics"]["x_fwhm_mm"] == result[0]["x_fwhm_mm"]
