"""The rds demo section runs without a trained model and shows the phantom, the split and the real radiograph."""

from __future__ import annotations

from nmkit.workflows.rds import demo


def test_demo_writes_its_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "SPLIT_SET", (20, 48))
    (section,) = demo.rds_demo(tmp_path)
    assert all(path.is_file() for path in section.figures)
    assert len(section.tables[0]) == 5  # no RDS and grades I-IV
    assert sum(row["images"] for row in section.tables[1]) == 20
