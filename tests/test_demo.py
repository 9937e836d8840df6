"""`nmkit demo`: every workflow's samples through its analysis, into one self-contained report."""

from __future__ import annotations

from typer.testing import CliRunner

from nmkit.cli import app


def test_demo_writes_report_with_each_qc_sample(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "demo" / "report.html").read_text()
    for sample in ("normal flood", "cold disc", "PMT failure", "crystal crack"):
        assert sample in html
    assert html.count("data:image/png;base64,") == 4
    assert len(list((tmp_path / "demo" / "qc").glob("*.qc.png"))) == 4
