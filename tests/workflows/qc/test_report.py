"""The monthly QC report: per head, each test's latest value, limit and status, the month's AI flood verdicts,
HTML and PDF; battery trends judged against baseline, absolute and maximum limits."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from typer.testing import CliRunner

from nmkit.cli import app
from nmkit.workflows.qc.history import FloodHistory, database_url
from nmkit.workflows.qc.report import collect, month_bounds

from .conftest import flood_file

CAMERA = {"station_name": "CAM", "device_serial_number": "S1"}
FLOOD = {"ufov_iu": 2.0, "ufov_du": 1.5, "cfov_iu": 1.8, "cfov_du": 1.2, "defect_probability": 0.7, "verdict": "fail"}


@pytest.fixture()
def store(tmp_path):
    store = FloodHistory(database_url(tmp_path / "data"))
    files = [flood_file(tmp_path, f"f{i}.npy", seed=i) for i in range(4)]
    for day, value, file in zip((3, 10, 17), (100.0, 97.0, 88.0), files):  # sensitivity falls 12 % by the 17th
        store.record_battery("sensitivity", {"sensitivity_cps_per_mbq": value, "source_cps": value * 10},
                             CAMERA | {"acquisition_date": f"202603{day:02d}"}, file, detector="2")
    store.record_battery("cor", {"offset_px": -0.7, "offset_mm": -2.8}, CAMERA | {"acquisition_date": "20260302"},
                         files[0], detector="1")
    store.record(FLOOD, CAMERA | {"detector_ids": ["1"], "acquisition_date": "20260305"}, files[3])
    return store


def test_battery_trends_judge_each_number_against_its_kind_of_limit(store):
    trends = {(t["test"], t["detector"]): t for t in store.battery_trends()}
    sens = trends["sensitivity", "2"]["metrics"]["sensitivity_cps_per_mbq"]
    assert sens["baseline"] == 100.0 and sens["judged"] == pytest.approx(12.0) and sens["status"] == "fail"
    assert trends["sensitivity", "2"]["metrics"]["source_cps"]["limit"] == "-"  # stored, trended, unjudged
    assert trends["cor", "1"]["metrics"]["offset_px"]["status"] == "fail"  # |-0.7| > 0.5 pixel
    early = {(t["test"], t["detector"]): t for t in store.battery_trends(until=datetime(2026, 3, 12))}
    assert early["sensitivity", "2"]["metrics"]["sensitivity_cps_per_mbq"]["status"] == "ok"


def test_collect_gives_each_head_its_rows_and_the_months_flood_verdicts(store):
    label, heads = collect(store, "2026-03")
    assert label == "2026-03" and [(h.station, h.detector, h.status) for h in heads] == [("CAM", "1", "fail"),
                                                                                          ("CAM", "2", "fail")]
    head1 = heads[0]
    assert {(r["test"], r["number"]) for r in head1.rows} >= {("flood", "ufov_iu"), ("cor", "offset_px")}
    assert [f["verdict"] for f in head1.floods] == ["fail"] and head1.floods[0]["AI defect probability"] == 0.7
    assert collect(store, "2026-04")[1][0].floods == []  # the flood is March's
    assert month_bounds("2026-12", None)[1] == datetime(2026, 12, 31, 23, 59, 59, 999999)


@pytest.mark.parametrize("suffix", [".html", ".pdf"])
def test_cli_report_writes_html_or_pdf(store, tmp_path, suffix):
    out = tmp_path / f"report{suffix}"
    result = CliRunner().invoke(app, ["qc", "report", "--data-dir", str(tmp_path / "data"), "--month", "2026-03",
                                      "--camera", "S1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    head = out.read_bytes()[:5]
    assert head == (b"%PDF-" if suffix == ".pdf" else b"<!doc")
    if suffix == ".html":
        text = out.read_text()
        assert "CAM / S1 / head 2: fail" in text and "sensitivity_cps_per_mbq" in text and "AI defect" in text


@pytest.mark.parametrize(("options", "message"), [
    (["--month", "2026-13"], "is not a month written YYYY-MM"),
    (["--camera", "OTHER"], "no checks of camera OTHER"),
    (["--month", "2025-01"], "no checks up to 2025-01"),
])
def test_report_bad_input_exits_2_and_writes_nothing(store, tmp_path, options, message):
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["qc", "report", "--data-dir", str(tmp_path / "data"), "--out", str(out),
                                      *options])
    assert result.exit_code == 2 and message in result.output and not out.exists()


def test_history_json_carries_the_battery_trends(store, tmp_path):
    result = CliRunner().invoke(app, ["qc", "history", "--data-dir", str(tmp_path / "data"), "--json"])
    assert result.exit_code == 0, result.output
    battery = json.loads(result.stdout)["battery"]
    assert {(t["test"], t["detector"], t["status"]) for t in battery} == {("sensitivity", "2", "fail"),
                                                                          ("cor", "1", "fail")}


def test_rows_of_a_result_are_stored_as_numbered_numbers():
    from nmkit.workflows.qc.history import result_numbers

    numbers = result_numbers({"file": "q.dcm", "quadrants": [{"bar_width_mm": 4.23, "mtf": 0.5}, {"mtf": 0.2}],
                              "ok": True, "n_frames": 3, "gap": float("nan")})
    assert numbers == {"quadrants_1_bar_width_mm": 4.23, "quadrants_1_mtf": 0.5, "quadrants_2_mtf": 0.2}
