"""Group received instances into series: a series is complete once no instance of it arrived for ``idle_s``.

Instances are files in ``incoming/<SeriesInstanceUID>/``. A complete series' folder is renamed into ``work/``
(so instances arriving later start a new series) and its path put on a bounded queue for the analysis; when
the queue is full the grouper waits, and the instances wait safely on disk. At start, every folder left in
``work/`` and ``incoming/`` by an earlier run is complete at once: a restart finishes what was received.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from pathlib import Path


class SeriesGrouper:
    def __init__(self, data_dir: Path, idle_s: float = 5.0, queue_size: int = 64):
        self.incoming, self.work = data_dir / "incoming", data_dir / "work"
        self.incoming.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        self.idle_s = idle_s
        self.ready: queue.Queue[Path] = queue.Queue(maxsize=queue_size)
        self.lock = threading.Lock()
        self.last_seen: dict[str, float] = {}
        self._backlog = sorted(p for p in self.work.iterdir() if p.is_dir() and not p.name.startswith("."))
        for folder in sorted(self.incoming.iterdir()):
            if folder.is_dir():
                self.last_seen[folder.name] = 0.0  # from an earlier run: complete now

    def series_folder(self, series_uid: str) -> Path:
        """Where instances of ``series_uid`` go; call with :attr:`lock` held."""
        self.last_seen[series_uid] = time.monotonic()
        folder = self.incoming / series_uid
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def pending(self) -> int:
        """Series still being received or waiting for analysis."""
        with self.lock:
            return len(self.last_seen) + self.ready.qsize() + len(self._backlog)

    def tick(self, stop: threading.Event) -> None:
        """Move every idle series to ``work/`` and queue it (blocking while the queue is full)."""
        while self._backlog and not stop.is_set():
            if self._put(self._backlog[0], stop):
                self._backlog.pop(0)
        now = time.monotonic()
        with self.lock:
            done = [uid for uid, seen in self.last_seen.items() if now - seen >= self.idle_s]
            moved = []
            for uid in done:
                del self.last_seen[uid]
                target = self.work / uid
                n = 1
                while target.exists():
                    n += 1
                    target = self.work / f"{uid}.{n}"
                os.replace(self.incoming / uid, target)
                moved.append(target)
        self._backlog += moved

    def _put(self, folder: Path, stop: threading.Event) -> bool:
        while not stop.is_set():
            try:
                self.ready.put(folder, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False
