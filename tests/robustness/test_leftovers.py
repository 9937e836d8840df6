"""Item 3: what a crash leaves (uploads, .part results) is swept at start-up and on a timer; an upload lives
only as long as its analysis."""

from __future__ import annotations

import os
import time

from nmkit.web.app import create_app

from .conftest import client_for, flood, post


def crash_leftovers(data_dir):
    upload = data_dir / "uploads" / ("a" * 32)
    upload.mkdir(parents=True)
    (upload / "upload.dcm").write_bytes(b"study")
    part_dir = data_dir / "results" / (".%s.abc.part" % ("b" * 32))
    part_dir.mkdir(parents=True)
    part_file = data_dir / "results" / ".result.json.xyz.part"
    part_file.write_text("{")
    done = data_dir / "results" / ("c" * 32)
    done.mkdir()
    (done / "result.json").write_text("{}")
    return [upload, part_dir, part_file], done


def test_start_up_removes_crash_leftovers_and_keeps_finished_results(settings):
    leftovers, done = crash_leftovers(settings.data_dir)
    create_app(settings)
    assert not any(p.exists() for p in leftovers) and (done / "result.json").is_file()


def test_a_timer_sweeps_stale_leftovers_while_the_server_runs(settings):
    settings.sweep_every_s, settings.stale_after_s = 0.05, 60.0
    with client_for(settings) as client:
        assert client.get("/api/workflows").status_code == 200
        leftovers, done = crash_leftovers(settings.data_dir)
        fresh = leftovers[0].with_name("d" * 32)
        fresh.mkdir()
        old = time.time() - 3600
        for path in leftovers:
            os.utime(path, (old, old))
        deadline = time.time() + 5
        while any(p.exists() for p in leftovers) and time.time() < deadline:
            time.sleep(0.05)
        assert not any(p.exists() for p in leftovers)
        assert fresh.exists() and done.exists()  # younger than stale_after_s, or finished


def test_an_upload_lives_only_as_long_as_its_analysis(settings, tmp_path):
    client = client_for(settings)
    assert post(client, "/api/qc", flood(tmp_path / "f.dcm").read_bytes()).status_code == 200
    assert list((settings.data_dir / "uploads").iterdir()) == []
    assert not [p for p in (settings.data_dir / "results").iterdir() if p.name.endswith(".part")]
