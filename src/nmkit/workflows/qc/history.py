"""QC history: every flood checked, per camera and head, in a SQL database (SQLite by default), and the
trend of its uniformity against the acceptance limits, flagging a rising trend before it fails. The other tests
of the QC battery (count rate, sensitivity, centre of rotation, ...) are stored beside them, one row per test, head
and energy window with its numbers, and trended the same way against :data:`BATTERY_LIMITS`."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import JSON, Column, DateTime, Float, Integer, MetaData, String, Table, create_engine, select

from nmkit.errors import InputError

METRICS = ("ufov_iu", "cfov_iu", "ufov_du", "cfov_du")
DB_NAME = "nmkit.db"

_metadata = MetaData()


def _check_columns() -> list[Column]:
    """What every stored check has: when, which camera head, which file (fresh Column objects per table)."""
    return [Column("id", Integer, primary_key=True),
            Column("checked_at", DateTime, nullable=False),
            Column("acquired_at", DateTime, nullable=False),
            Column("station_name", String(128), nullable=False),
            Column("device_serial_number", String(128), nullable=False),
            Column("detector", String(64), nullable=False),
            Column("file_name", String(255), nullable=False),
            Column("sha256", String(64), nullable=False, index=True)]


flood_checks = Table(
    "flood_checks", _metadata, *_check_columns(),
    *(Column(name, Float, nullable=False) for name in ("ufov_iu", "ufov_du", "cfov_iu", "cfov_du",
                                                       "defect_probability")),
    Column("verdict", String(8), nullable=False),
)
battery_checks = Table(
    "battery_checks", _metadata, *_check_columns(),
    Column("energy_window", String(64), nullable=False),
    Column("test", String(32), nullable=False, index=True),
    Column("metrics", JSON, nullable=False),  # every number of the test's JSON result, by key
)

# How each trended number is judged: "max" (value <= limit), "abs" (|value| <= limit) or "baseline" (within
# limit % of the head's first stored value, its reference). Numbers not listed are stored and trended unjudged.
BATTERY_LIMITS: dict[str, dict[str, tuple[str, float]]] = {
    "countrate": {"max_cps": ("baseline", 10.0), "cps_at_20pct_loss": ("baseline", 10.0)},
    "sensitivity": {"sensitivity_cps_per_mbq": ("baseline", 10.0)},
    "cor": {"offset_px": ("abs", 0.5), "x_deviation_mm": ("max", 2.0), "y_deviation_mm": ("max", 2.0)},
}
# The numbers of each test the monthly report shows (all numbers of a test not listed here).
BATTERY_HEADLINES: dict[str, tuple[str, ...]] = {
    "countrate": ("max_cps", "cps_at_20pct_loss"),
    "sensitivity": ("sensitivity_cps_per_mbq",),
    "cor": ("offset_mm", "offset_px", "x_deviation_mm", "y_deviation_mm"),
}
SKIPPED_NUMBERS = {"max_frame", "n_frames", "n_projections", "half_life_s", "duration_s", "activity_mbq",
                   "source_counts", "pixel_mm", "arc_deg", "max_time_s", "decay_factor", "history_id"}


def database_url(data_dir: str | Path | None = None, url: str | None = None) -> str:
    """``url`` when given (any SQLAlchemy URL, e.g. postgresql+psycopg://...), else SQLite in ``data_dir``."""
    if url:
        return url
    folder = Path(data_dir or "nmkit-data")
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / DB_NAME).resolve()}"


def camera_identity(metadata: dict[str, Any]) -> dict[str, str]:
    """Station name, device serial number and detector (head) of a flood, from its DICOM metadata."""
    detectors = metadata.get("detector_ids") or []
    return {"station_name": metadata.get("station_name") or "unknown station",
            "device_serial_number": metadata.get("device_serial_number") or "unknown serial",
            "detector": ",".join(detectors) if detectors else "1"}


def acquisition_time(metadata: dict[str, Any]) -> datetime | None:
    """The flood's acquisition date and time from DICOM (DA + TM), None when absent, malformed or an anonymised
    placeholder (before 1900, e.g. 00010101)."""
    date = (metadata.get("acquisition_date") or "").strip()
    clock = (metadata.get("acquisition_time") or "").split(".")[0].strip().ljust(6, "0")[:6]
    try:
        when = datetime.strptime(date + (clock if clock.isdigit() else "000000"), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return when if when.year >= 1900 else None


@dataclass
class MetricTrend:
    """One metric of one camera head: its latest value, the fitted slope and what it reaches ahead."""

    metric: str
    latest: float
    limit: float | None
    slope_per_30_days: float | None
    projected: float | None
    status: str  # "fail" (latest over the limit), "rising" (will cross within the horizon), "ok"


class FloodHistory:
    """The flood-check history in one database: ``record()`` a check, ``checks()`` lists, ``trends()`` judges."""

    def __init__(self, url: str):
        try:
            self.engine = create_engine(url)
            _metadata.create_all(self.engine)
        except Exception as err:  # a bad URL or an unreachable server
            raise InputError(url.split("@")[-1], f"cannot open the QC history database ({type(err).__name__})") \
                from err

    def record(self, result: dict[str, Any], metadata: dict[str, Any], file: str | Path,
               file_name: str | None = None, checked_at: datetime | None = None) -> int:
        """Store one `qc check` result (its JSON dict); a flood already stored for that head is not stored twice."""
        digest = hashlib.sha256(Path(file).read_bytes()).hexdigest()
        identity = camera_identity(metadata)
        now = (checked_at or datetime.now(UTC)).replace(tzinfo=None)
        with self.engine.begin() as conn:
            existing = conn.execute(select(flood_checks.c.id).where(
                flood_checks.c.sha256 == digest, flood_checks.c.station_name == identity["station_name"],
                flood_checks.c.detector == identity["detector"])).first()
            if existing:
                return int(existing[0])
            row = {**identity, "checked_at": now, "acquired_at": acquisition_time(metadata) or now,
                   "file_name": (file_name or Path(file).name)[:255], "sha256": digest,
                   **{k: float(result[k]) for k in (*METRICS, "defect_probability")}, "verdict": result["verdict"]}
            return int(conn.execute(flood_checks.insert().values(**row)).inserted_primary_key[0])

    def checks(self) -> list[dict[str, Any]]:
        """Every stored check, oldest acquisition first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(flood_checks).order_by(flood_checks.c.acquired_at, flood_checks.c.id))
            return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row._mapping.items()}
                    for row in rows]

    def trends(self, iu_limit: float = 5.0, du_limit: float | None = None, horizon_days: float = 30.0,
               window: int = 10, until: datetime | None = None) -> list[dict[str, Any]]:
        """Per camera head: its checks (acquired up to ``until``) and, per metric, the trend over the last
        ``window`` checks."""
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for row in self.checks():
            if until is not None and datetime.fromisoformat(row["acquired_at"]) > until:
                continue
            groups.setdefault((row["station_name"], row["device_serial_number"], row["detector"]), []).append(row)
        out = []
        for (station, serial, detector), rows in groups.items():
            metrics = {m: metric_trend([r["acquired_at"] for r in rows], [r[m] for r in rows], m,
                                       iu_limit if m.endswith("_iu") else du_limit, horizon_days, window)
                       for m in METRICS}
            statuses = [t.status for t in metrics.values()]
            status = "fail" if "fail" in statuses else "rising" if "rising" in statuses else "ok"
            out.append({"station_name": station, "device_serial_number": serial, "detector": detector,
                        "n_checks": len(rows), "last_acquired_at": rows[-1]["acquired_at"], "status": status,
                        "metrics": {m: vars(t) for m, t in metrics.items()}, "checks": rows})
        return out

    def record_battery(self, test: str, result: dict[str, Any], metadata: dict[str, Any], file: str | Path,
                       detector: str, energy_window: str = "1", file_name: str | None = None,
                       checked_at: datetime | None = None) -> int:
        """Store one battery test result (its JSON dict) for one head and window; a file already stored for that
        test, head and window is not stored twice."""
        digest = hashlib.sha256(Path(file).read_bytes()).hexdigest()
        identity = camera_identity(metadata) | {"detector": str(detector)[:64]}
        now = (checked_at or datetime.now(UTC)).replace(tzinfo=None)
        window = str(energy_window)[:64]
        with self.engine.begin() as conn:
            existing = conn.execute(select(battery_checks.c.id).where(
                battery_checks.c.sha256 == digest, battery_checks.c.test == test,
                battery_checks.c.station_name == identity["station_name"],
                battery_checks.c.detector == identity["detector"], battery_checks.c.energy_window == window)).first()
            if existing:
                return int(existing[0])
            numbers = result_numbers(result)
            row = {**identity, "energy_window": window, "test": test[:32], "checked_at": now,
                   "acquired_at": acquisition_time(metadata) or now, "file_name": (file_name or Path(file).name)[:255],
                   "sha256": digest, "metrics": numbers}
            return int(conn.execute(battery_checks.insert().values(**row)).inserted_primary_key[0])

    def battery(self) -> list[dict[str, Any]]:
        """Every stored battery result, oldest acquisition first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(battery_checks).order_by(battery_checks.c.acquired_at, battery_checks.c.id))
            return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row._mapping.items()}
                    for row in rows]

    def battery_trends(self, horizon_days: float = 30.0, window: int = 10,
                       until: datetime | None = None) -> list[dict[str, Any]]:
        """Per camera head, test and energy window: its results (acquired up to ``until``) and, per number, the
        trend judged against :data:`BATTERY_LIMITS`."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in self.battery():
            if until is None or datetime.fromisoformat(row["acquired_at"]) <= until:
                key = (row["station_name"], row["device_serial_number"], row["detector"], row["test"],
                       row["energy_window"])
                groups.setdefault(key, []).append(row)
        out = []
        for (station, serial, detector, test, energy_window), rows in groups.items():
            names = dict.fromkeys(k for r in rows for k in r["metrics"])
            metrics = {name: battery_trend(test, name, rows, horizon_days, window) for name in names}
            statuses = [m["status"] for m in metrics.values()]
            out.append({"station_name": station, "device_serial_number": serial, "detector": detector,
                        "test": test, "energy_window": energy_window, "n_checks": len(rows),
                        "last_acquired_at": rows[-1]["acquired_at"],
                        "status": "fail" if "fail" in statuses else "rising" if "rising" in statuses else "ok",
                        "metrics": metrics, "checks": rows})
        return out


def result_numbers(result: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a result by key; a list of rows (quadrants, spheres) gives key_1_name, key_2_name..."""
    flat: dict[str, Any] = {}
    for key, value in result.items():
        if isinstance(value, list) and all(isinstance(row, dict) for row in value):
            flat |= {f"{key}_{i}_{name}": v for i, row in enumerate(value, start=1) for name, v in row.items()}
        else:
            flat[key] = value
    return {k: float(v) for k, v in flat.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and k not in SKIPPED_NUMBERS and np.isfinite(v)}


def battery_trend(test: str, name: str, rows: list[dict[str, Any]], horizon_days: float = 30.0,
                  window: int = 10) -> dict[str, Any]:
    """One number of one test on one head: latest value, its limit as text, and the trend of the judged quantity
    (the value, its magnitude, or its % deviation from the first stored value)."""
    kept = [r for r in rows if name in r["metrics"]]
    values = np.array([r["metrics"][name] for r in kept])
    kind, limit = BATTERY_LIMITS.get(test, {}).get(name, ("none", None))
    baseline = float(values[0])
    if kind == "abs":
        judged, text = np.abs(values), f"|x| <= {limit:g}"
    elif kind == "baseline" and baseline != 0:
        judged, text = np.abs(values / baseline - 1.0) * 100.0, f"within {limit:g} % of {baseline:.4g}"
    elif kind == "max":
        judged, text = values, f"<= {limit:g}"
    else:
        judged, text, limit = values, "-", None
    trend = metric_trend([r["acquired_at"] for r in kept], judged.tolist(), name, limit, horizon_days, window)
    return {"metric": name, "latest": float(values[-1]), "limit": text, "limit_kind": kind, "limit_value": limit,
            "baseline": baseline, "judged": round(float(judged[-1]), 4), "status": trend.status,
            "slope_per_30_days": trend.slope_per_30_days}


TREND_COLUMNS = ("station", "serial", "head", "checks", "last", "UFOV IU %", "CFOV IU %", "UFOV DU %", "CFOV DU %",
                 "IU slope %/30 d", "status")


def trend_row(trend: dict[str, Any]) -> list[str]:
    """One camera head of :meth:`FloodHistory.trends` as the cells of :data:`TREND_COLUMNS`."""
    m = trend["metrics"]
    slope = m["ufov_iu"]["slope_per_30_days"]
    return [trend["station_name"], trend["device_serial_number"], trend["detector"], str(trend["n_checks"]),
            trend["last_acquired_at"][:10], *(f"{m[k]['latest']:.2f}" for k in METRICS),
            "-" if slope is None else f"{slope:+.2f}", trend["status"]]


def metric_trend(times: list[str], values: list[float], metric: str, limit: float | None,
                 horizon_days: float = 30.0, window: int = 10) -> MetricTrend:
    """Least-squares line through the last ``window`` values (3 at least); "rising" when it is going up and
    reaches ``limit`` within ``horizon_days`` of the latest check, "fail" when the latest value is over it."""
    epoch = datetime(1970, 1, 1)
    days = np.array([(datetime.fromisoformat(t) - epoch).total_seconds() / 86400.0 for t in times])[-window:]
    y = np.asarray(values, dtype=np.float64)[-window:]
    latest = float(y[-1])
    slope = projected = None
    if len(y) >= 3 and np.ptp(days) > 0:
        slope, intercept = np.polyfit(days - days[-1], y, 1)
        projected = float(intercept + slope * horizon_days)
        slope = float(slope * 30.0)
    if limit is not None and latest > limit:
        status = "fail"
    elif limit is not None and slope is not None and slope > 0 and projected is not None and projected >= limit:
        status = "rising"
    else:
        status = "ok"
    return MetricTrend(metric, latest, limit, None if slope is None else round(slope, 4),
                       None if projected is None else round(projected, 4), status)


def trend_figure(trend: dict[str, Any]) -> bytes:
    """A PNG of one camera head's UFOV/CFOV IU and DU over time, with the acceptance limits."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = [datetime.fromisoformat(r["acquired_at"]) for r in trend["checks"]]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharex=True)
    for ax, kind in zip(axes, ("iu", "du")):
        for region, style in (("ufov", "o-"), ("cfov", "s--")):
            ax.plot(times, [r[f"{region}_{kind}"] for r in trend["checks"]], style, ms=4, label=region.upper())
        limit = trend["metrics"][f"ufov_{kind}"]["limit"]
        if limit is not None:
            ax.axhline(limit, color="#a93226", lw=1, ls=":", label=f"limit {limit:g} %")
        ax.set_ylim(bottom=0)
        ax.set_title(f"{'integral' if kind == 'iu' else 'differential'} uniformity")
        ax.set_ylabel("%")
        ax.legend(fontsize=8)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    fig.suptitle(f"{trend['station_name']} / {trend['device_serial_number']} / head {trend['detector']}: "
                 f"{trend['status']}", fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()
