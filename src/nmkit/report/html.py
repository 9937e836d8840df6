"""A self-contained HTML report: sections of key/value tables and embedded PNG figures (no CDN)."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nmkit.atomic import atomic_path

_STYLE = """body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f4f4f4}img{max-width:100%;margin:.4em 0}.note{color:#666;font-size:.9em}
.pass{color:#186a3b;font-weight:bold}.fail{color:#a93226;font-weight:bold}"""


@dataclass
class Section:
    """A titled part of the report: a text, tables (list of row dicts) and figures (PNG paths)."""

    title: str
    text: str = ""
    tables: list[Sequence[Mapping[str, Any]]] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = html.escape(str(value))
    return f'<span class="{text}">{text}</span>' if text in ("pass", "fail") else text


def _table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    keys = list(rows[0])
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(k, ''))}</td>" for k in keys) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="{html.escape(Path(path).name)}" src="data:image/png;base64,{data}">'


def write_report(path: str | Path, title: str, sections: Sequence[Section], note: str = "") -> Path:
    """Write one HTML file with everything embedded."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    if note:
        parts.append(f"<p class='note'>{html.escape(note)}</p>")
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.text:
            parts.append(f"<p>{html.escape(s.text)}</p>")
        parts += [_table(t) for t in s.tables]
        parts += [_figure(f) for f in s.figures]
    parts.append("</body></html>")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    return Path(path)
