"""The bonescan demo section: the real NM1 scan (when pydicom-data is there) and a phantom, graded."""

from __future__ import annotations

from nmkit.workflows.bonescan.demo import bonescan_demo


def test_demo_section(tmp_path):
    (section,) = bonescan_demo(tmp_path)
    rows = section.tables[0]
    assert {r["side"] for r in rows} == {"right", "left"} and all("AI grade" in r for r in rows)
    assert all(p.is_file() for p in section.figures) and len(section.figures) in (1, 2)
    assert (tmp_path / "bonescan_phantom.mat").is_file()
