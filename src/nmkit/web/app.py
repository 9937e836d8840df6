"""`nmkit serve`: the FastAPI app. One page for every workflow, a JSON API for each analysis (see /docs),
and the QC history. Everything is served from this machine; the page loads nothing from elsewhere."""

from __future__ import annotations

import contextlib
import hmac
import html
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from nmkit.io import pixel_limit
from nmkit.web.analysis import Probe, WebAnalysis
from nmkit.web.jobs import JOB_ID, JobRunner, Models, ModelUnavailable
from nmkit.web.upload import UploadError, discard, probe, receive, verify
from nmkit.web.workflows import ANALYSES, candidates
from nmkit.workflows.qc.history import TREND_COLUMNS, FloodHistory, database_url, trend_figure, trend_row

PAGE_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'")
DOCS_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
               "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'")  # Swagger UI starts inline
REPORT_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
log = logging.getLogger("nmkit.web")
MULTIPART_SLACK = 1 << 16  # form boundaries and headers around the file
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PUBLIC_PREFIXES = ("/static/", "/docs-static/")  # the page's own scripts and styles, needed before any token
TOKEN_COOKIE = "nmkit_token"


@dataclass
class Settings:
    """What `nmkit serve` was started with."""

    data_dir: Path = Path("nmkit-data")
    database_url: str | None = None
    max_upload_mb: float = 512.0
    models: dict[str, list[Path]] = field(default_factory=dict)
    iu_limit: float = 5.0
    du_limit: float | None = None
    gbp_background: str = "study"
    workers: int = 2
    host: str = "127.0.0.1"
    allowed_hosts: list[str] = field(default_factory=list)
    token: str | None = None
    pixel_limits_mb: dict[str, float] = field(default_factory=dict)
    sweep_every_s: float = 600.0
    stale_after_s: float = 3600.0

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)

    @property
    def hosts(self) -> set[str]:
        """Host names this server answers to: the bound address, localhost, 127.0.0.1 and --allowed-host."""
        return {h.strip("[]").lower() for h in (self.host, "localhost", "127.0.0.1", "::1", *self.allowed_hosts)}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The web app for ``settings`` (default: ./nmkit-data, SQLite history, 512 MB uploads)."""
    settings = settings or Settings()
    data_dir = Path(settings.data_dir)
    (data_dir / "uploads").mkdir(parents=True, exist_ok=True)
    history = FloodHistory(database_url(data_dir, settings.database_url))
    options = {"iu_limit": settings.iu_limit, "du_limit": settings.du_limit, "qc_history": history,
               "gbp_background": settings.gbp_background, "dicom_results": True}
    models = Models(settings.models)
    runner = JobRunner(data_dir, models, options, settings.workers, settings.pixel_limits_mb)
    runner.sweep()  # what a crash left behind: stale uploads and half-written results
    static = resources.files("nmkit.web") / "static"

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        sweeper = threading.Thread(target=_sweep_until, args=(runner, settings, stop), daemon=True,
                                   name="nmkit-sweeper")
        sweeper.start()
        yield
        stop.set()

    app = FastAPI(title="nmkit", version=_version(), docs_url=None, redoc_url=None, lifespan=lifespan, description=(
        "Nuclear-medicine deep-learning workflows. POST a study to `/api/{workflow}` (or `/api/analyse` to let "
        "nmkit pick the workflow) and get the same JSON as the command line's `--json`. Nothing leaves this "
        "machine. With a token set, send `Authorization: Bearer TOKEN`."))
    app.state.settings, app.state.runner, app.state.history = settings, runner, history

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        refusal = _refusal(request, settings)
        if refusal is not None:
            return refusal
        if request.method == "POST":
            length = request.headers.get("content-length")
            if length is None:
                return JSONResponse({"detail": "uploads must say their size (Content-Length)."}, status_code=411)
            if not length.isdigit() or int(length) > settings.max_upload_bytes + MULTIPART_SLACK:
                return JSONResponse({"detail": f"the upload is larger than the limit of {settings.max_upload_mb:g} "
                                               f"MB."}, status_code=413)
        response = await call_next(request)
        if settings.token and request.query_params.get("token") == settings.token:
            response.set_cookie(TOKEN_COOKIE, settings.token, httponly=True, samesite="strict")
        response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    # Swagger UI's files come from the fastapi-offline package, so /docs needs no CDN.
    app.mount("/docs-static", StaticFiles(directory=str(resources.files("fastapi_offline") / "static")),
              name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(openapi_url="/openapi.json", title="nmkit API",
                                   swagger_js_url="/docs-static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-static/swagger-ui.css",
                                   swagger_favicon_url="/docs-static/favicon.png")
        page.headers["Content-Security-Policy"] = DOCS_POLICY
        return page

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse((static / "index.html").read_text(encoding="utf-8"))

    @app.get("/api/workflows", summary="The workflows this server runs")
    def workflows() -> list[dict[str, Any]]:
        return [{"key": a.key, "title": a.title, "accepts": a.accepts, "ready": models.ready(a)}
                for a in ANALYSES.values()]

    def accept(file: UploadFile, workflow: str) -> tuple[str, WebAnalysis, Path, Probe, str]:
        """Store, type and check one upload; its folder is gone again on any refusal."""
        name = _display_name(file.filename)
        job_id = runner.new_id()
        folder = data_dir / "uploads" / job_id
        try:
            stored = receive(file.file, folder, name, settings.max_upload_bytes)
            with pixel_limit(max(runner.max_pixel_mb(a) for a in ANALYSES.values())):
                typed, found = probe(stored, name)
            analysis = _choose(workflow, found, name)
            with pixel_limit(runner.max_pixel_mb(analysis)):
                verify(typed, found, name)
            if not models.ready(analysis):
                models.get(analysis)  # raises ModelUnavailable with the message
        except UploadError as err:
            discard(folder)
            raise HTTPException(err.status, str(err)) from None
        except ModelUnavailable as err:
            discard(folder)
            raise HTTPException(503, str(err)) from None
        except BaseException:
            discard(folder)
            raise
        return job_id, analysis, typed, found, name

    def run_now(file: UploadFile, workflow: str) -> dict[str, Any]:
        job_id, analysis, typed, found, name = accept(file, workflow)
        try:
            return runner.submit(job_id, analysis, typed, found, name).result()
        except Exception:
            state = runner.status(job_id) or {}
            raise HTTPException(422, state.get("error") or "the analysis failed.") from None

    @app.post("/api/analyses", status_code=202, summary="Queue an analysis (the page uses this and polls)")
    def queue(file: UploadFile = File(...), workflow: str = Form("auto")) -> dict[str, Any]:
        job_id, analysis, typed, found, name = accept(file, workflow)
        runner.submit(job_id, analysis, typed, found, name)
        return runner.status(job_id) or {}

    @app.get("/api/analyses/{job_id}", summary="An analysis' progress, and its result once done")
    def status(job_id: str) -> dict[str, Any]:
        state = runner.status(job_id) if JOB_ID.match(job_id) else None
        if state is None:
            raise HTTPException(404, "no such analysis.")
        return state

    @app.get("/api/analyses/{job_id}/files/{name}", summary="A figure, the report or the JSON of an analysis")
    def result_file(job_id: str, name: str) -> FileResponse:
        path = runner.file(job_id, name)
        if path is None:
            raise HTTPException(404, "no such file.")
        headers = {"Content-Security-Policy": REPORT_POLICY} if name.endswith(".html") else {}
        download = name.endswith((".json", ".nii.gz", ".u8", ".zip"))
        return FileResponse(path, headers=headers, filename=name if download else None,
                            media_type="application/octet-stream" if name.endswith(".u8") else None)

    @app.post("/api/analyse", summary="Analyse a study with the workflow nmkit picks from its content")
    def analyse_auto(file: UploadFile = File(...)) -> dict[str, Any]:
        return run_now(file, "auto")

    for key, analysis in ANALYSES.items():
        def endpoint(file: UploadFile = File(...), _key: str = key) -> dict[str, Any]:
            return run_now(file, _key)

        app.post(f"/api/{key}", summary=analysis.title, description=f"Upload {analysis.accepts}.",
                 name=f"analyse_{key}")(endpoint)

    @app.get("/api/qc/history", summary="QC history: every flood per camera head, with its uniformity trend")
    def qc_history() -> dict[str, Any]:
        return _history(app)

    @app.get("/api/qc/history/{index}/trend.png", summary="One camera head's uniformity trend as PNG")
    def qc_trend(index: int) -> Response:
        trends = _history(app)["cameras"]
        if not 0 <= index < len(trends):
            raise HTTPException(404, "no such camera head.")
        return Response(trend_figure(trends[index]), media_type="image/png")

    @app.get("/qc/history", response_class=HTMLResponse, include_in_schema=False)
    def qc_history_page() -> HTMLResponse:
        return HTMLResponse(history_page(_history(app)))

    return app


def _refusal(request: Request, settings: Settings) -> Response | None:
    """Why this request is refused, or None: a Host this server does not answer to (DNS rebinding), a
    state-changing request from another site (cross-site request forgery), or a missing token."""
    host = _host_name(request.headers.get("host", ""))
    if host not in settings.hosts:
        return JSONResponse({"detail": f"this server does not answer to the host {host or '(none)'!r}; start it "
                                       "with --allowed-host to add one."}, status_code=421)
    if request.method not in SAFE_METHODS:
        origin = request.headers.get("origin")
        site = request.headers.get("sec-fetch-site", "").lower()
        foreign = origin is not None and not _same_origin(origin, request, settings.allowed_hosts)
        if site in ("cross-site", "same-site") or foreign:
            return JSONResponse({"detail": "cross-site requests may not change anything on this server."},
                                status_code=403)
    public = request.url.path.startswith(PUBLIC_PREFIXES)
    if settings.token and not public and not _has_token(request, settings.token):
        return JSONResponse({"detail": "this server needs its token: send the header Authorization: Bearer TOKEN, "
                                       "or open the page once as /?token=TOKEN."}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
    return None


def _host_name(host: str) -> str:
    """The name part of a Host header (or an Origin's netloc), lower case, without port or IPv6 brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _same_origin(origin: str, request: Request, allowed: list[str]) -> bool:
    """The Origin header names this very server (scheme, host and port as the request reached it), or a
    host the operator allowed with --allowed-host (a reverse proxy's public name)."""
    scheme, _, netloc = origin.partition("://")
    return scheme in ("http", "https") and (netloc.lower() == request.headers.get("host", "").lower()
                                            or _host_name(netloc) in allowed)


def _has_token(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "")
    candidates = [given[7:] if given.lower().startswith("bearer ") else "", request.cookies.get(TOKEN_COOKIE, ""),
                  request.query_params.get("token", "")]
    return any(hmac.compare_digest(c.encode(), token.encode()) for c in candidates if c)


def _sweep_until(runner: JobRunner, settings: Settings, stop: threading.Event) -> None:
    """Every ``settings.sweep_every_s``, remove uploads and .part results older than ``stale_after_s``."""
    while not stop.wait(settings.sweep_every_s):
        try:
            runner.sweep(settings.stale_after_s)
        except OSError:
            log.exception("sweeping stale uploads failed")


def _history(app: FastAPI) -> dict[str, Any]:
    s = app.state.settings
    return {"iu_limit": s.iu_limit, "du_limit": s.du_limit,
            "cameras": app.state.history.trends(iu_limit=s.iu_limit, du_limit=s.du_limit)}


def _choose(workflow: str, found: Probe, name: str) -> WebAnalysis:
    """The asked-for workflow, or the one the content points to; UploadError when it is unclear."""
    if workflow != "auto":
        if workflow not in ANALYSES:
            raise UploadError(422, f"{name}: unknown workflow {workflow!r}; choose one of {', '.join(ANALYSES)}.")
        return ANALYSES[workflow]
    keys = candidates(found)
    if len(keys) == 1:
        return ANALYSES[keys[0]]
    what = f"a {found.format} {found.modality or ''} image of shape {'x'.join(map(str, found.shape))}".replace("  ", " ")
    if not keys:
        raise UploadError(422, f"{name}: no workflow takes {what}; check the file or choose a workflow.")
    raise UploadError(422, f"{name}: {what} could be {' or '.join(keys)}; choose the workflow.")


def _display_name(filename: str | None) -> str:
    """The client's file name for display only (its last part, printable, at most 120 characters)."""
    base = (filename or "upload").replace("\\", "/").rsplit("/", 1)[-1]
    clean = "".join(c for c in base if c.isprintable()).strip()
    return clean[:120] or "upload"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nmkit")
    except PackageNotFoundError:
        return "0"


def history_page(history: dict[str, Any]) -> str:
    """The QC history page: one row and one trend figure per camera head."""
    rows, figures = [], []
    for i, cam in enumerate(history["cameras"]):
        *cells, status = trend_row(cam)
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
                    + f"<td class='{status}' data-status='{status}'>{status}</td></tr>")
        figures.append(f"<img alt='trend of camera head {i + 1}' src='/api/qc/history/{i}/trend.png'>")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in TREND_COLUMNS)
    body = (f"<table id='history'><tr>{head}</tr>{''.join(rows)}</table>" + "".join(figures)) if rows else \
        "<p id='history-empty'>No flood has been checked yet.</p>"
    limits = f"IU limit {history['iu_limit']:g} %" + (
        f", DU limit {history['du_limit']:g} %" if history["du_limit"] is not None else "")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>nmkit QC history</title>"
            f"<link rel='stylesheet' href='/static/style.css'></head><body><header><a href='/'>nmkit</a> "
            f"<a href='/qc/history'>QC history</a> <a href='/docs'>API</a></header><main><h1>QC history</h1>"
            f"<p class='note'>{limits}. <b>rising</b>: the line through the last checks reaches the limit within "
            f"30 days; <b>fail</b>: the last check is over it.</p>{body}"
            f"<p><a href='/api/qc/history'>as JSON</a></p></main></body></html>")

