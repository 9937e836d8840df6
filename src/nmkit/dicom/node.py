"""The DICOM node: receive -> group -> route -> analyse -> write -> forward, in the MONAI Deploy spirit.

* receive (:class:`~nmkit.dicom.receive.Receiver`): a storage SCP writes each instance to ``incoming/`` before
  acknowledging it;
* group (:class:`~nmkit.dicom.group.SeriesGrouper`): a series is complete after ``idle_s`` without instances, and
  waits in a bounded queue;
* route (:class:`~nmkit.dicom.route.Router`): the workflow is chosen by the series' content;
* analyse: the workflow's own analysis (nmkit's analysis objects) on the series' files;
* write: ``results/<series>/`` (made atomically) holds ``result.json``, the SEG, SR and SC, and any figure;
  the series' instances move to ``received/<series>/``;
* forward (:func:`~nmkit.dicom.forward.forward`): the DICOM results go to ``--forward`` when given.

A series that cannot be analysed goes to ``rejected/<series>/`` with ``reason.txt``; every problem is logged as
one sentence, and the node keeps serving.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from nmkit.atomic import atomic_dir, atomic_path
from nmkit.dicom.forward import Destination, ForwardError, forward
from nmkit.dicom.group import SeriesGrouper
from nmkit.dicom.receive import Receiver
from nmkit.dicom.results import write_results
from nmkit.dicom.route import Outcome, Route, Router
from nmkit.errors import InputError
from nmkit.io import read_dicom_dataset

log = logging.getLogger("nmkit.node")


class Node:
    """``Node(data_dir, routes).start(host, port)``, then ``stop()``; ``serve()`` blocks until interrupted."""

    def __init__(self, data_dir: str | Path, routes: list[Route], aet: str = "NMKIT",
                 forward_to: Destination | None = None, idle_s: float = 5.0, queue_size: int = 64):
        self.data_dir = Path(data_dir)
        self.results, self.received, self.rejected = (self.data_dir / name for name in
                                                      ("results", "received", "rejected"))
        self.aet, self.forward_to = aet, forward_to
        self.router = Router(routes)
        self.grouper = SeriesGrouper(self.data_dir, idle_s, queue_size)
        self.receiver = Receiver(self.grouper, self.router.sop_classes, aet)
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.port: int | None = None

    # the chain
    def start(self, host: str = "127.0.0.1", port: int = 11112) -> int:
        """Start receiving and analysing in the background; returns the port bound."""
        self.port = self.receiver.start(host, port)
        for target in (self._group_loop, self._analyse_loop):
            thread = threading.Thread(target=target, name=f"nmkit-node-{target.__name__}", daemon=True)
            thread.start()
            self.threads.append(thread)
        log.info("nmkit node %s listening on %s:%d (data in %s)", self.aet, host, self.port, self.data_dir)
        return self.port

    def stop(self) -> None:
        """Stop receiving, finish the series being analysed, and stop; what is left is finished at next start."""
        self.receiver.stop()
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)
        self.threads.clear()

    def serve(self, host: str, port: int) -> None:
        self.start(host, port)
        try:
            self.stopping.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def _group_loop(self) -> None:
        while not self.stopping.is_set():
            self.grouper.tick(self.stopping)
            self.stopping.wait(0.1)

    def _analyse_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                folder = self.grouper.ready.get(timeout=0.2)
            except queue.Empty:
                continue
            self.process(folder)

    def process(self, folder: Path) -> Path | None:
        """Route, analyse, write and forward one complete series folder; its results folder, or None."""
        files = sorted(p for p in folder.iterdir() if p.suffix == ".dcm")
        where = f"series {folder.name}"
        try:
            headers = [read_dicom_dataset(path, stop_before_pixels=True) for path in files]
            route = self.router(headers, where)
            results_dir = self.write(folder, route, lambda out: route.analyse(files, out))
        except InputError as err:
            return self._reject(folder, str(err))
        except Exception as err:  # noqa: BLE001 - one series' failure must not stop the node
            return self._reject(folder, f"{where}: the analysis failed ({type(err).__name__}: {err}).")
        if self.forward_to is not None:
            self.send(results_dir)
        return results_dir

    def write(self, folder: Path, route: Route, analyse: Callable[[Path], Outcome]) -> Path:
        """Analyse into a temporary results folder, add result.json and the DICOM results, then make it
        ``results/<series>/`` and move the series to ``received/``."""
        target = self.results / folder.name
        with atomic_dir(target) as tmp:
            outcome: Outcome = analyse(tmp)
            written = write_results(outcome.dicom, tmp) if outcome.dicom is not None else {}
            document = {"workflow": route.workflow, "series": folder.name, "result": outcome.result,
                        "dicom_files": {k: p.name for k, p in written.items()},
                        "extra_files": [str(p.relative_to(tmp)) for p in outcome.extra_files]}
            with atomic_path(tmp / "result.json") as part:
                part.write_text(json.dumps(document, indent=1, default=str))
        _move(folder, self.received / folder.name)
        log.info("%s: %s analysed; results in %s", folder.name, route.workflow, target)
        return target

    def send(self, results_dir: Path) -> None:
        """C-STORE the results' DICOM files to ``forward_to``; a failure is logged, the results stay on disk."""
        document = json.loads((results_dir / "result.json").read_text())
        files = [results_dir / name for name in document["dicom_files"].values()]
        files += [results_dir / name for name in document["extra_files"] if name.endswith(".dcm")]
        try:
            forward(files, self.forward_to, self.aet)
        except (ForwardError, OSError) as err:
            log.warning("%s: not forwarded to %s (%s); the results stay in %s", results_dir.name, self.forward_to,
                        str(err).rstrip("."), results_dir)

    def _reject(self, folder: Path, sentence: str) -> None:
        """Set the series aside in ``rejected/`` with its reason; log the sentence."""
        target = self.rejected / folder.name
        _move(folder, target)
        (target / "reason.txt").write_text(sentence + "\n")
        log.warning("%s It was set aside in %s.", sentence, target)
        return None


def _move(folder: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    os.replace(folder, target)
