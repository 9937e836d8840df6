"""`nmkit demo`: every workflow's samples through its analysis, into one self-contained report."""

from __future__ import annotations

from typer.testing import CliRunner

from nmkit.cli import app


def test_demo_writes_report_with_each_workflow_sample(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "demo" / "report.html").read_text()
    for sample in ("normal flood", "cold disc", "PMT failure", "crystal crack"):
        assert sample in html
    for sample in ("normal LV function", "reduced LV function"):
        assert sample in html
    assert "pet: early to delayed FDG PET" in html and "bonescan: knee degenerative joint disease" in html
    assert "rds:" in html
    assert html.count("data:image/png;base64,") >= 4 + 2 * 2 + 1 + 1 + 1
    assert len(list((tmp_path / "demo" / "qc").glob("*.qc.png"))) == 4
    assert len(list((tmp_path / "demo" / "gbp").glob("*.png"))) == 4
