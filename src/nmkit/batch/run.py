"""Run one workflow's analysis over many items: per-item errors, worker processes or Ray tasks, resume."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from nmkit.atomic import atomic_dir, atomic_path
from nmkit.batch.discover import Item
from nmkit.errors import InputError

RESULT = "result.json"
# The keys of nmkit.web.workflows.ANALYSES, known without importing the analyses (torch and every workflow's models:
# seconds of CPU a parent of worker processes has no use for).
WORKFLOWS = ("qc", "gbp", "pet", "bonescan", "rds", "qc-countrate", "qc-cor", "qc-tomo")


class ItemTask:
    """What a batch runs per item: the record of its result, or of its one-sentence error (never an exception,
    so one broken item cannot end the batch). Subclasses say how an item is analysed and where its record lies."""

    def __call__(self, item: Item) -> dict[str, Any]:
        """The record for ``item``: the workflow's result (as ``--json`` prints it) or its one-sentence error."""
        record: dict[str, Any] = {"input": item.key}
        if item.error:
            return record | {"error": f"{item.path}: {item.error}."}
        try:
            # "input" is the item's key, first, even where a result names its input itself (pet: by its path)
            return record | self._analyse(item) | record
        except InputError as err:
            return record | {"error": str(err)}
        except MemoryError:
            return record | {"error": f"{item.path}: too large to analyse in this machine's memory."}
        except Exception as err:  # noqa: BLE001 - one broken item must not end the batch; it is reported
            return record | {"error": f"{item.path}: the analysis failed ({type(err).__name__}: {err})."}

    def stored(self, item: Item) -> Path:
        """Where the item's result is kept once it is done (``--skip-done`` reads it instead of analysing again)."""
        raise NotImplementedError

    def _analyse(self, item: Item) -> dict[str, Any]:
        raise NotImplementedError


@dataclass
class BatchTask(ItemTask):
    """``nmkit batch``: an item analysed as ``nmkit serve`` analyses an upload (the workflow's ``web.py``), its
    result and figures in ``out/<key>/``.

    Picklable, so it travels to worker processes and Ray tasks; the model loads once per process, on first use.
    """

    workflow: str
    out: Path
    models: list[Path] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    history_url: str | None = None  # qc: record each accepted flood in this QC history database

    def output_dir(self, item: Item) -> Path:
        return self.out / item.key

    def stored(self, item: Item) -> Path:
        return self.output_dir(item) / RESULT

    def _analyse(self, item: Item) -> dict[str, Any]:
        from nmkit.web.analysis import RunContext

        from nmkit.io import pixel_limit

        analysis = _analysis(self.workflow)
        with pixel_limit(analysis.max_pixel_mb):  # the workflow's cap, as `nmkit serve` applies it
            probe = _probe(item.path)
        if not analysis.claims(probe):
            raise InputError(item.path, f"is not an input of the {self.workflow} workflow (it takes "
                                        f"{analysis.accepts})")
        options = dict(self.options)
        if self.history_url and self.workflow == "qc":
            options["qc_history"] = history(self.history_url)
        model = loaded(analysis.load_model, list(self.models))
        with pixel_limit(analysis.max_pixel_mb), atomic_dir(self.output_dir(item)) as out:
            outcome = analysis.run(RunContext(item.path, item.key, probe, out, model, options))
            document = {"workflow": self.workflow, "verdict": outcome.verdict, "figures": outcome.figures,
                        "downloads": outcome.downloads, "result": _relative(outcome.result, out)}
            with atomic_path(out / RESULT) as tmp:
                tmp.write_text(json.dumps(document, indent=2, default=str))
        return document


def loaded(load_model: Callable[[Any], Any], source: Any) -> Any:
    """``load_model(source)``, once per process: every item a worker analyses shares the model it loaded."""
    key = (load_model, repr(source))
    if key not in _MODELS:
        _MODELS[key] = load_model(source)
    return _MODELS[key]


_MODELS: dict[tuple, Any] = {}  # per process: each worker loads its model once
_HISTORIES: dict[str, Any] = {}


def run_batch(task: ItemTask, items: list[Item], jobs: int = 1, skip_done: bool = False,
              progress: Callable[[], None] = lambda: None) -> Iterator[dict[str, Any]]:
    """One record per item, in the items' order; ``jobs`` > 1 runs them in that many worker processes.

    With ``skip_done`` an item whose stored result (``task.stored``) exists is not analysed again: that result is
    given, marked ``"resumed": true``.
    """
    todo = []
    for item in items:
        stored = task.stored(item)
        if skip_done and stored.is_file():
            progress()
            yield {"input": item.key, "resumed": True} | json.loads(stored.read_text())
        else:
            todo.append(item)
    if jobs <= 1 or len(todo) <= 1:
        for item in todo:
            record = task(item)
            progress()
            yield record
        return
    jobs = min(jobs, len(todo))  # a worker without an item would only start Python and import torch
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=_worker_start,
                             initargs=(threads,)) as pool:
        # One item per call: an item takes a tenth of a second or more, so passing it costs nothing, and no worker
        # sits idle at the end while another finishes a chunk of many.
        for record in pool.map(task, todo):
            progress()
            yield record


def run_on_ray(task: ItemTask, items: list[Item], address: str | None = None,
               progress: Callable[[], None] = lambda: None) -> Iterator[dict[str, Any]]:
    """The same records, computed as Ray tasks on the cluster at ``address`` ("local" starts one here).

    Every node must see the inputs and ``task.out`` at the same paths (a shared file system), or give results to a
    database (``history_url``) only.
    """
    try:
        import ray
    except ImportError:
        raise InputError("--ray", "needs Ray: pip install 'nmkit[ray]'") from None
    started = not ray.is_initialized()
    if started:
        kwargs = {"num_cpus": os.cpu_count()} if address in (None, "local") else {"address": address}
        ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
    try:
        remote = ray.remote(num_cpus=1)(_call)
        refs = [remote.remote(task, item) for item in items]
        for ref in refs:
            record = ray.get(ref)
            progress()
            yield record
    finally:
        if started:
            ray.shutdown()


def exit_code(records: list[dict[str, Any]]) -> int:
    """0 when every item succeeded, 2 when none could be read, else 1."""
    failed = sum("error" in r for r in records)
    return 0 if failed == 0 else 2 if failed == len(records) else 1


def _call(task: ItemTask, item: Item) -> dict[str, Any]:
    return task(item)


def _worker_start(threads: int) -> None:
    import torch

    from nmkit.models.device import set_device

    torch.set_num_threads(threads)
    set_device(os.environ.get("NMKIT_DEVICE", "cpu"))


def _analysis(workflow: str):
    from nmkit.web.workflows import ANALYSES

    if workflow not in ANALYSES:
        raise InputError(workflow, f"is not a workflow (one of {', '.join(ANALYSES)})")
    return ANALYSES[workflow]


def _probe(path: Path):
    """What the item is, read from its content (as the web server types an upload), without renaming it."""
    from nmkit.io import detect_format, load_image
    from nmkit.web.analysis import Probe

    from nmkit.web.upload import MAT_HEADERS

    if path.is_dir():  # a folder holding one DICOM series of single slices: a PET volume
        from nmkit.io.pet import read_pet_suv

        image = read_pet_suv(path)
        return Probe("dicom", image.modality, tuple(image.shape), dict(image.metadata), image)
    with open(path, "rb") as handle:
        head = handle.read(32)
    if head.startswith(MAT_HEADERS):
        from nmkit.io.matlab import read_bone_mat

        study = read_bone_mat(path)
        return Probe("mat", "NM", (2, *study.anterior.shape), {"format": "mat"})
    kind = detect_format(path)
    image = load_image(path)
    return Probe(kind, image.modality, tuple(image.shape), dict(image.metadata), image)


def history(url: str):
    """The QC history database at ``url``, opened once per process."""
    if url not in _HISTORIES:
        from nmkit.workflows.qc.history import FloodHistory

        _HISTORIES[url] = FloodHistory(url)
    return _HISTORIES[url]


def _relative(value: Any, out: Path) -> Any:
    """``value`` with paths inside the item's output folder written as plain file names."""
    if isinstance(value, dict):
        return {k: _relative(v, out) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative(v, out) for v in value]
    if isinstance(value, str) and value.startswith(str(out)):
        return Path(value).name
    return value

