"""Analysis jobs: a small thread pool runs each upload through its workflow; results land atomically in
``<data dir>/results/<id>/`` (result.json, report.html, figures), uploads are deleted once analysed."""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nmkit.atomic import atomic_dir, atomic_path
from nmkit.errors import InputError
from nmkit.io import load_image, pixel_limit
from nmkit.report.html import Section, write_report
from nmkit.web.analysis import Outcome, Probe, RunContext, WebAnalysis
from nmkit.web.upload import discard

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
log = logging.getLogger("nmkit.web")


class ModelUnavailable(Exception):
    """The server has no model for a workflow that ships none."""


@dataclass
class Job:
    """The state of one analysis, as the page polls it."""

    id: str
    workflow: str
    file: str
    status: str = "queued"  # queued, running, done, error
    stage: str = "queued"
    fraction: float = 0.0
    error: str | None = None
    created: float = field(default_factory=time.time)
    seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Models:
    """Each workflow's model, loaded once on first use and shared by every job."""

    def __init__(self, paths: dict[str, list[Path]]):
        self.paths = paths
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    def ready(self, analysis: WebAnalysis) -> bool:
        return bool(self.paths.get(analysis.key)) or not analysis.model_required

    def get(self, analysis: WebAnalysis) -> Any:
        with self._lock:
            if analysis.key not in self._loaded:
                if not self.ready(analysis):
                    raise ModelUnavailable(f"nmkit ships no {analysis.key} model; start the server with "
                                           f"--model {analysis.key}=PATH (a bundle from `nmkit train`).")
                self._loaded[analysis.key] = analysis.load_model(self.paths.get(analysis.key, []))
            return self._loaded[analysis.key]


class JobRunner:
    """Runs analyses on ``workers`` threads and keeps their state; finished results live on disk."""

    def __init__(self, data_dir: Path, models: Models, options: dict[str, Any], workers: int = 2,
                 pixel_limits: dict[str, float] | None = None):
        self.results, self.uploads = data_dir / "results", data_dir / "uploads"
        self.results.mkdir(parents=True, exist_ok=True)
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.models, self.options = models, options
        self.pixel_limits = pixel_limits or {}
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nmkit-job")

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def max_pixel_mb(self, analysis: WebAnalysis) -> float:
        """The workflow's pixel cap: the server's setting for it, else the workflow's own."""
        return self.pixel_limits.get(analysis.key, analysis.max_pixel_mb)

    def sweep(self, older_than_s: float = 0.0) -> list[Path]:
        """Remove what a crash left: upload folders of no queued or running job, and ``.part`` results, older
        than ``older_than_s`` seconds (all of them at start-up); returns what was removed."""
        with self._lock:
            live = {job.id for job in self.jobs.values() if job.status in ("queued", "running")}
        cutoff = time.time() - older_than_s
        stale = [p for p in self.uploads.iterdir() if p.name not in live]
        stale += [p for p in self.results.iterdir() if p.name.endswith(".part") and p.name[1:33] not in live]
        removed = []
        for path in stale:
            try:
                if path.stat().st_mtime <= cutoff:
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
                    removed.append(path)
            except FileNotFoundError:
                pass
        return removed

    def submit(self, job_id: str, analysis: WebAnalysis, upload: Path, probe: Probe, file: str) -> Future:
        """Queue ``upload`` (its folder is deleted when the job ends) for ``analysis``."""
        job = Job(job_id, analysis.key, file)
        with self._lock:
            self.jobs[job_id] = job
        return self._pool.submit(self._run, job, analysis, upload, probe)

    def status(self, job_id: str) -> dict[str, Any] | None:
        """The job's state, with its stored result once done; None for an unknown id."""
        with self._lock:
            job = self.jobs.get(job_id)
        stored = self.result(job_id)
        if job is None and stored is None:
            return None
        state = job.as_dict() if job else {"id": job_id, "workflow": stored["workflow"], "file": stored["file"],
                                           "status": "done", "stage": "done", "fraction": 1.0, "error": None}
        if stored is not None and state["status"] == "done":
            state["result"] = stored
        return state

    def result(self, job_id: str) -> dict[str, Any] | None:
        path = self.results / job_id / "result.json"
        return json.loads(path.read_text()) if JOB_ID.match(job_id) and path.is_file() else None

    def file(self, job_id: str, name: str) -> Path | None:
        """A file of a finished job, only by a plain name that exists in its folder."""
        if not (JOB_ID.match(job_id) and FILE_NAME.match(name)):
            return None
        path = self.results / job_id / name
        return path if path.is_file() else None

    def _run(self, job: Job, analysis: WebAnalysis, upload: Path, probe: Probe) -> dict[str, Any]:
        start = time.perf_counter()

        def progress(stage: str, fraction: float) -> None:
            job.stage, job.fraction = stage, max(0.0, min(1.0, fraction))

        job.status = "running"
        try:
            progress("loading the model", 0.05)
            model = self.models.get(analysis)
            with pixel_limit(self.max_pixel_mb(analysis)), atomic_dir(self.results / job.id) as out:
                progress("reading the upload", 0.08)
                if probe.image is None and probe.format != "mat":
                    probe.image = load_image(upload)  # decoded here, in the worker, under the workflow's cap
                progress("analysing", 0.1)
                outcome = analysis.run(RunContext(upload, job.file, probe, out, model, dict(self.options), progress))
                progress("writing the report", 0.95)
                document = self._document(job, analysis, outcome, upload, out)
                write_report(out / "report.html", f"nmkit {analysis.key}: {job.file}", [Section(
                    analysis.title, text=f"verdict: {outcome.verdict}" if outcome.verdict else "",
                    tables=[[{"quantity": n.label, "value": n.value, "unit": n.unit} for n in outcome.numbers]],
                    figures=[out / f for f in outcome.figures])],
                    note="Made by nmkit serve; nothing in it left this machine.")
                with atomic_path(out / "result.json") as tmp:
                    tmp.write_text(json.dumps(document, indent=2, default=str))
            job.status, job.stage, job.fraction = "done", "done", 1.0
            return document
        except (InputError, ModelUnavailable) as err:
            job.status, job.error = "error", _client_text(str(err), upload, job.file)
            raise
        except Exception as err:
            log.exception("job %s failed", job.id)
            job.status, job.error = "error", f"{job.file}: the analysis failed ({type(err).__name__}: " \
                                             f"{_client_text(str(err), upload, job.file)})."
            raise
        finally:
            job.seconds = round(time.perf_counter() - start, 3)
            discard(upload.parent)

    def _document(self, job: Job, analysis: WebAnalysis, outcome: Outcome, upload: Path, out: Path) -> dict:
        """The stored result: server paths replaced by the client's file name or plain output names."""
        def clean(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, list):
                return [clean(v) for v in value]
            if isinstance(value, str):
                return Path(value).name if value.startswith(str(out)) else _client_text(value, upload, job.file)
            return value

        return {"id": job.id, "workflow": analysis.key, "title": analysis.title, "file": job.file,
                "verdict": outcome.verdict, "numbers": [asdict(n) for n in outcome.numbers],
                "figures": outcome.figures, "downloads": ["result.json", "report.html", *outcome.downloads],
                "viewer": outcome.viewer, "result": clean(outcome.result)}


def _client_text(text: str, upload: Path, client_name: str) -> str:
    """``text`` with the server's upload path replaced by the name the client gave."""
    return text.replace(str(upload), client_name).replace(str(upload.parent), "upload")
