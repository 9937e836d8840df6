"""The rds demo section shows the phantom, the split and the real radiograph, with or without the shipped models."""

from __future__ import annotations

from nmkit.workflows.rds import demo


def test_demo_writes_its_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "SPLIT_SET", (20, 48))
    (section,) = demo.rds_demo(tmp_path)
    assert all(path.is_file() for path in section.figures)
    assert len(section.tables[0]) == 5  # no RDS and grades I-IV
    assert all(0 <= row["P(RDS), shipped model"] <= 1 for row in section.tables[0])
    assert sum(row["images"] for row in section.tables[1]) == 20


def test_demo_runs_without_the_shipped_models(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "SPLIT_SET", (20, 48))
    monkeypatch.setattr(demo, "_shipped_models", lambda: None)
    (section,) = demo.rds_demo(tmp_path)
    assert "nothing is segmented" in section.text and "P(RDS), shipped model" not in section.tables[0][0]
