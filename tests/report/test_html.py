from __future__ import annotations

import numpy as np

from nmkit.report.figures import overlay_figure, roc_figure
from nmkit.report.html import Section, write_report


def test_report_embeds_tables_and_figures_offline(tmp_path):
    png = overlay_figure(np.random.default_rng(0).poisson(50, (20, 30)).astype(float), np.ones((20, 30)),
                         tmp_path / "map.png", "flood", overlay_label="sigma", marks=[(5, 5, "x")])
    roc = roc_figure([("cnn", np.array([0, 1.0]), np.array([0, 1.0]), 0.5)], tmp_path / "roc.png", [("r1", 0.2, 0.7)])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and roc.stat().st_size > 1000
    html = write_report(tmp_path / "r.html", "T", [Section("S", "text", [[{"k": 1.23456, "verdict": "pass"}]], [png])])
    text = html.read_text()
    assert "data:image/png;base64," in text and "1.235" in text and 'class="pass"' in text
    assert "http://" not in text and "https://" not in text
