"""Figures: each writes a PNG atomically, and the same input gives the same bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nmkit.report import figures
from nmkit.report.figures import bland_altman_figure, contour_figure, curve_figure, image_row_figure

PNG = b"\x89PNG\r\n\x1a\n"


def _draw_all(folder):
    rows, cols = np.mgrid[:32, :32]
    image = np.exp(-((rows - 14) ** 2 + (cols - 16) ** 2) / 60.0) * 500
    lv = (rows - 14) ** 2 + (cols - 16) ** 2 <= 36
    background = (rows >= 22) & (rows <= 25) & (cols >= 20) & (cols <= 26)
    t = np.arange(16) * 50.0
    return [
        bland_altman_figure([55, 62, 48, 70, 35], [52, 65, 47, 66, 38], folder / "ba.png", unit="%",
                            title="LVEF", method_label="model", reference_label="manual"),
        curve_figure(t, {"LV counts": 1000 - 400 * np.sin(np.pi * t / 800)}, folder / "tac.png", xlabel="time (ms)",
                     ylabel="counts", title="LV time-activity curve", marks=[(0.0, "ED"), (400.0, "ES")]),
        contour_figure(image, {"LV": lv, "background": background, "empty": np.zeros_like(lv)}, folder / "roi.png",
                       title="ROIs"),
        image_row_figure({"early": image, "delayed": 1.3 * image}, folder / "row.png", "slice 3", "SUVbw"),
    ]


def test_figures_are_pngs_with_nothing_left_behind(tmp_path):
    paths = _draw_all(tmp_path)
    assert [p.name for p in paths] == ["ba.png", "tac.png", "roi.png", "row.png"]
    for path in paths:
        assert path.read_bytes().startswith(PNG)
        assert b"Software" not in path.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ba.png", "roi.png", "row.png", "tac.png"]


def test_same_input_same_bytes(tmp_path):
    first, second = _draw_all(tmp_path / "a"), _draw_all(tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_a_long_contour_title_wraps_clear_of_the_colour_bar(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, path: drawn.append(fig) or Path(path))
    title = "NORMAL2-IM-1427-0001.jpeg (Kermany 2018, CC BY 4.0): paediatric, JPEG"  # the demo's widest
    contour_figure(np.zeros((1416, 1776)), {}, tmp_path / "wide.png", title, image_label="grey")
    fig = drawn[0]
    fig.canvas.draw()
    image_axes, bar = fig.axes
    assert image_axes.title.get_window_extent().x1 < bar.get_window_extent().x0
    assert "\n" in image_axes.title.get_text()
