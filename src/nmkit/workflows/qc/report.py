"""The monthly QC report of a department's cameras: per camera head, every test's latest value with its limit and
status, a trend figure of every number over time, and the AI verdicts of the month's floods; HTML or PDF."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from nmkit.errors import InputError  # noqa: E402
from nmkit.report.figures import save_figure  # noqa: E402
from nmkit.workflows.qc.history import BATTERY_HEADLINES, METRICS, FloodHistory  # noqa: E402

Head = tuple[str, str, str]  # station, serial, detector


@dataclass
class HeadReport:
    """One camera head's part of the report."""

    station: str
    serial: str
    detector: str
    rows: list[dict[str, Any]] = field(default_factory=list)  # test, number, latest, limit, status, checks, last
    series: list[tuple[str, list[datetime], list[float], float | None]] = field(default_factory=list)
    floods: list[dict[str, Any]] = field(default_factory=list)  # the month's flood checks with their AI verdict

    @property
    def title(self) -> str:
        return f"{self.station} / {self.serial} / head {self.detector}"

    @property
    def status(self) -> str:
        statuses = {r["status"] for r in self.rows}
        return "fail" if "fail" in statuses else "rising" if "rising" in statuses else "ok"


def month_bounds(month: str | None, latest: datetime | None) -> tuple[datetime, datetime, str]:
    """(first instant, last instant, 'YYYY-MM') of ``month``, or of the month of the latest check."""
    if month is None:
        if latest is None:
            raise InputError("--data-dir", "the QC history holds no checks to report")
        month = latest.strftime("%Y-%m")
    try:
        start = datetime.strptime(month, "%Y-%m")
    except ValueError:
        raise InputError("--month", f"{month!r} is not a month written YYYY-MM") from None
    year, number = divmod(start.year * 12 + start.month, 12)  # the month after: (year, month 0-11)
    following = start.replace(year=year, month=number + 1)
    return start, following - timedelta(microseconds=1), month


def collect(store: FloodHistory, month: str | None = None, camera: str | None = None, iu_limit: float = 5.0,
            du_limit: float | None = None) -> tuple[str, list[HeadReport]]:
    """The month reported and one :class:`HeadReport` per camera head with checks up to its end."""
    times = [datetime.fromisoformat(r["acquired_at"]) for r in store.checks() + store.battery()]
    start, end, label = month_bounds(month, max(times, default=None))
    heads: dict[Head, HeadReport] = {}

    def head(station: str, serial: str, detector: str) -> HeadReport | None:
        if camera and camera.lower() not in (station.lower(), serial.lower()):
            return None
        return heads.setdefault((station, serial, detector), HeadReport(station, serial, detector))

    for trend in store.trends(iu_limit, du_limit, until=end):
        report = head(trend["station_name"], trend["device_serial_number"], trend["detector"])
        if report is None:
            continue
        checks = trend["checks"]
        for metric in METRICS:
            m = trend["metrics"][metric]
            report.rows.append(_row("flood", metric, m["latest"], "-" if m["limit"] is None else f"<= {m['limit']:g}",
                                    m["status"], trend))
            report.series.append((f"flood {metric} (%)", _times(checks), [c[metric] for c in checks], m["limit"]))
        report.floods = [{"acquired": c["acquired_at"][:16].replace("T", " "), "file": c["file_name"],
                          "UFOV IU %": c["ufov_iu"], "CFOV IU %": c["cfov_iu"],
                          "AI defect probability": c["defect_probability"], "verdict": c["verdict"]}
                         for c in checks if datetime.fromisoformat(c["acquired_at"]) >= start]
    for trend in store.battery_trends(until=end):
        report = head(trend["station_name"], trend["device_serial_number"], trend["detector"])
        if report is None:
            continue
        test = trend["test"] + ("" if trend["energy_window"] == "1" else f" (window {trend['energy_window']})")
        shown = BATTERY_HEADLINES.get(trend["test"]) or tuple(trend["metrics"])
        for name in (n for n in shown if n in trend["metrics"]):
            m = trend["metrics"][name]
            report.rows.append(_row(test, name, m["latest"], m["limit"], m["status"], trend))
            kept = [c for c in trend["checks"] if name in c["metrics"]]
            limit = m["limit_value"] if m["limit_kind"] == "max" else None
            report.series.append((f"{test} {name}", _times(kept), [c["metrics"][name] for c in kept], limit))
    if not heads:
        raise InputError("--camera" if camera else "--data-dir",
                         f"the QC history holds no checks{f' of camera {camera}' if camera else ''} up to {label}")
    return label, [heads[key] for key in sorted(heads)]


def _row(test: str, number: str, latest: float, limit: str, status: str, trend: dict[str, Any]) -> dict[str, Any]:
    return {"test": test, "number": number, "latest": latest, "limit": limit, "status": status,
            "checks": trend["n_checks"], "last": trend["last_acquired_at"][:10]}


def _times(checks: list[dict[str, Any]]) -> list[datetime]:
    return [datetime.fromisoformat(c["acquired_at"]) for c in checks]


def trend_figure(report: HeadReport, path: Path) -> Path:
    """Every number of one head over time, one small panel each, with its limit where it is a fixed one."""
    n = max(1, len(report.series))
    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.4 * rows), squeeze=False)
    for ax, (name, times, values, limit) in zip(axes.flat, report.series):
        ax.plot(times, values, "o-", ms=3, lw=1.2)
        if limit is not None:
            ax.axhline(limit, color="#a93226", lw=1, ls=":")
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.tick_params(axis="x", labelrotation=30)
    for ax in list(axes.flat)[len(report.series):]:
        ax.axis("off")
    fig.suptitle(f"{report.title}: {report.status}", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def write_monthly_report(store: FloodHistory, out: str | Path, month: str | None = None, camera: str | None = None,
                         iu_limit: float = 5.0, du_limit: float | None = None) -> Path:
    """Write the report as HTML (self-contained) or PDF, chosen by ``out``'s suffix."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".pdf"):
        raise InputError(out, "the report must be a .html or .pdf file")
    label, heads = collect(store, month, camera, iu_limit, du_limit)
    title = f"Gamma-camera QC, {label}" + (f", camera {camera}" if camera else "")
    note = ("Latest value of every test up to the end of the month, judged against its limit (baseline limits: "
            "within the given % of the head's first stored value); 'rising' means the trend reaches the limit "
            "within 30 days. Flood verdicts: NEMA uniformity plus the AI defect check.")
    with tempfile.TemporaryDirectory() as tmp:
        figures = [trend_figure(h, Path(tmp) / f"head{i}.png") for i, h in enumerate(heads)]
        if out.suffix.lower() == ".html":
            from nmkit.report.html import Section, write_report

            sections = [Section(f"{h.title}: {h.status}", tables=[h.rows] + ([h.floods] if h.floods else []),
                                figures=[f], text="" if h.floods else "No flood checked this month.")
                        for h, f in zip(heads, figures)]
            return write_report(out, title, sections, note=note)
        return _write_pdf(out, title, note, heads, figures)


def _write_pdf(out: Path, title: str, note: str, heads: list[HeadReport], figures: list[Path]) -> Path:
    from matplotlib.backends.backend_pdf import PdfPages

    from nmkit.atomic import atomic_path

    with atomic_path(out) as tmp, PdfPages(tmp, metadata={"Title": title, "CreationDate": None}) as pdf:
        for head, figure in zip(heads, figures):
            fig = plt.figure(figsize=(8.27, 11.69))  # A4
            fig.text(0.05, 0.97, title, fontsize=13, weight="bold", va="top")
            fig.text(0.05, 0.94, f"{head.title}: {head.status}", fontsize=11, va="top")
            fig.text(0.05, 0.915, note, fontsize=6, va="top", wrap=True)
            _pdf_table(fig, [0.05, 0.55, 0.9, 0.33], head.rows)
            if head.floods:
                _pdf_table(fig, [0.05, 0.38, 0.9, 0.14], head.floods[-8:])
            image = fig.add_axes([0.05, 0.02, 0.9, 0.34])
            image.imshow(plt.imread(figure))
            image.axis("off")
            pdf.savefig(fig)
            plt.close(fig)
    return out


def _pdf_table(fig: plt.Figure, box: list[float], rows: list[dict[str, Any]]) -> None:
    ax = fig.add_axes(box)
    ax.axis("off")
    if not rows:
        return
    cells = [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in r.values()] for r in rows]
    table = ax.table(cellText=cells, colLabels=list(rows[0]), loc="upper center", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(6)
