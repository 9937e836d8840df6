"""QC history: storing checks per camera head, the trend verdicts, and `nmkit qc history`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from typer.testing import CliRunner

from nmkit.cli import app
from nmkit.workflows.qc.history import FloodHistory, acquisition_time, database_url, metric_trend

from .conftest import flood_file

RESULT = {"ufov_iu": 2.0, "ufov_du": 1.5, "cfov_iu": 1.8, "cfov_du": 1.2, "defect_probability": 0.1, "verdict": "pass"}
CAMERA = {"station_name": "CAM", "device_serial_number": "S1", "detector_ids": ["2"]}


def days(*offsets):
    start = datetime(2026, 1, 1)
    return [(start + timedelta(days=d)).isoformat() for d in offsets]


def test_a_steady_camera_is_ok_and_a_climbing_one_is_flagged_before_it_fails():
    steady = metric_trend(days(0, 7, 14, 21), [2.0, 2.1, 1.9, 2.0], "ufov_iu", 5.0)
    assert steady.status == "ok" and abs(steady.slope_per_30_days) < 0.5
    rising = metric_trend(days(0, 7, 14, 21), [2.6, 3.2, 3.8, 4.4], "ufov_iu", 5.0)  # 0.6 % a week
    assert rising.status == "rising" and rising.latest < 5.0
    assert rising.slope_per_30_days == round(0.6 / 7 * 30, 4) and rising.projected > 5.0
    assert metric_trend(days(0, 7, 14), [3.0, 4.0, 5.5], "ufov_iu", 5.0).status == "fail"
    assert metric_trend(days(0, 7), [2.0, 4.9], "ufov_iu", 5.0).status == "ok"  # two points: no trend yet
    assert metric_trend(days(0, 7, 14), [1.0, 2.0, 3.0], "ufov_du", None).status == "ok"  # no limit, no verdict


def test_acquisition_time_reads_dicom_date_and_time():
    assert acquisition_time({"acquisition_date": "20261102", "acquisition_time": "081500.123"}) == \
        datetime(2026, 11, 2, 8, 15)
    assert acquisition_time({"acquisition_date": "20261102"}) == datetime(2026, 11, 2)
    assert acquisition_time({"acquisition_date": "2026-11"}) is None and acquisition_time({}) is None


def test_history_groups_by_head_and_stores_a_flood_once(tmp_path):
    store = FloodHistory(database_url(tmp_path))
    floods = [flood_file(tmp_path, f"f{i}.npy", seed=i) for i in range(4)]
    for i, flood in enumerate(floods[:3]):
        meta = CAMERA | {"acquisition_date": f"2026010{i + 1}"}
        store.record(RESULT | {"ufov_iu": 2.0 + i}, meta, flood)
    again = store.record(RESULT, CAMERA | {"acquisition_date": "20260101"}, floods[0])
    store.record(RESULT, {}, floods[3])
    assert again == 1 and len(store.checks()) == 4
    trends = {(t["station_name"], t["detector"]): t for t in store.trends(iu_limit=5.0)}
    assert set(trends) == {("CAM", "2"), ("unknown station", "1")}
    cam = trends[("CAM", "2")]
    assert cam["n_checks"] == 3 and [c["ufov_iu"] for c in cam["checks"]] == [2.0, 3.0, 4.0]
    assert cam["metrics"]["ufov_iu"]["slope_per_30_days"] == 30.0 and cam["status"] == "rising"


def test_cli_check_records_and_history_prints_json(tmp_path, tiny_model):
    runner = CliRunner()
    flood = flood_file(tmp_path)
    data = tmp_path / "data"
    checked = runner.invoke(app, ["qc", "check", str(flood), "--model", str(tiny_model), "--json",
                                  "--out", str(tmp_path / "maps"), "--data-dir", str(data)])
    assert checked.exit_code == 0, checked.output
    result = json.loads(checked.stdout.strip().splitlines()[-1])
    assert result["history_id"] == 1
    shown = runner.invoke(app, ["qc", "history", "--data-dir", str(data), "--json", "--iu-limit", "4"])
    assert shown.exit_code == 0, shown.output
    history = json.loads(shown.stdout)
    assert history["iu_limit"] == 4.0 and history["cameras"][0]["metrics"]["ufov_iu"]["latest"] == result["ufov_iu"]
    table = runner.invoke(app, ["qc", "history", "--data-dir", str(data)], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "unknown station" in table.stdout


def test_history_of_an_empty_folder_exits_2_and_creates_nothing(tmp_path):
    result = CliRunner().invoke(app, ["qc", "history", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 2 and "holds no QC history" in result.output
    assert not (tmp_path / "none").exists()
