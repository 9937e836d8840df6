"""Helpers for benchmark scripts: the machine's name and replacing one workflow's section of BENCHMARKS.md."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nmkit.metrics.bootstrap import RESAMPLES, Interval

BENCHMARKS = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def machine() -> str:
    """A one-line description of the machine the figures come from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} cores ({torch.get_num_threads()} torch threads), {gpu}, torch {torch.__version__}, Python {platform.python_version()}; "
            f"1-min load average {load:.1f} when the run started (times are longer on a busy machine)")


RESULTS = BENCHMARKS.parent / "benchmarks" / "results"


def repeat_timing(run, repeats: int) -> dict[str, float]:
    """Seconds of ``run()`` over ``repeats`` calls after one warm-up: the minimum (the call least slowed by other
    jobs on a shared machine) and the median."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return {"min": min(times), "median": statistics.median(times)}


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--smoke`` (a tiny run that proves the script still works) and ``--out`` (write elsewhere)."""
    parser.add_argument("--smoke", action="store_true", help="a tiny run (seconds) that only proves the script runs")
    parser.add_argument("--out", type=Path, help="write the results and a BENCHMARKS.md here, not into the repository")


def outputs(args: argparse.Namespace) -> tuple[Path, Path]:
    """(results folder, BENCHMARKS.md) of a run: the repository's, or under ``--out``."""
    if args.out:
        return Path(args.out), Path(args.out) / "BENCHMARKS.md"
    if getattr(args, "smoke", False):
        raise SystemExit("--smoke needs --out: a smoke run never writes into the repository")
    return RESULTS, BENCHMARKS


def write_section(key: str, body: str, path: Path = BENCHMARKS) -> None:
    """Replace (or append) the section between ``<!-- key:begin -->`` and ``<!-- key:end -->``."""
    begin, end = f"<!-- {key}:begin -->", f"<!-- {key}:end -->"
    text = path.read_text() if path.exists() else "# nmkit benchmarks\n\nEach section is written by the script it names; rerun it to refresh.\n"
    block = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def is_shipped(bundle: Path, target: Path) -> bool:
    """Whether ``bundle`` is the model file shipped in ``target`` (then its benchmark rewrites the model card)."""
    return any(Path(bundle).resolve() == p.resolve() for p in target.glob("*.pt"))


def command(script: str) -> str:
    """The command line that ran this script, as BENCHMARKS.md quotes it."""
    return " ".join([".venv/bin/python", f"benchmarks/{script}", *sys.argv[1:]])


def install_models(target: Path, models: dict[str, Path], card: str) -> None:
    """Ship trained bundles (file name in ``target`` -> bundle) and their MODEL_CARD.md in a default_model/ folder."""
    target.mkdir(parents=True, exist_ok=True)
    for name, bundle in models.items():
        if not (target / name).exists() or not (target / name).samefile(bundle):
            shutil.copyfile(bundle, target / name)
    (target / "MODEL_CARD.md").write_text(card)


def training_record(bundle: Path, seconds: float | None, results: Path, started_on: str) -> dict | None:
    """The training time of ``bundle``: this run's (then recorded in ``results``/training.json by the file's
    SHA-256), else the one recorded for the same file by an earlier run, else None."""
    path = results / "training.json"
    records = json.loads(path.read_text()) if path.is_file() else {}
    digest = hashlib.sha256(Path(bundle).read_bytes()).hexdigest()
    if seconds is not None:
        records[digest] = {"seconds": seconds, "machine": started_on, "made_by": command(Path(sys.argv[0]).name)}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(records, indent=2))
    return records.get(digest)


def train_or_take(config: Path, given: str | Path | None, results: Path, started_on: str) -> tuple[Path, dict | None]:
    """The given bundle, or ``config`` trained now into runs/<config name>; with its training record."""
    if given:
        return Path(given), training_record(Path(given), None, results, started_on)
    from nmkit.engine import load_config, train

    start = time.perf_counter()
    bundle = train(load_config(config), BENCHMARKS.parent / "runs" / Path(config).stem)
    return bundle, training_record(bundle, time.perf_counter() - start, results, started_on)




def _pair_wins(scores: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """(positives, negatives): 1 where the positive image scores higher, 0.5 on a tie, else 0."""
    p, n = scores[positive][:, None], scores[negative][None, :]
    return (p > n) + 0.5 * (p == n)


def auc_interval(labels, scores, other=None, *, seed: int = 0, resamples: int = RESAMPLES) -> Interval:
    """The ROC AUC of ``scores`` over the images, or (given ``other``, a second method's scores of the same images)
    the paired difference AUC(scores) - AUC(other), with its 95 % percentile bootstrap interval. Defective and
    normal images are resampled apart (stratified, as pROC does): the test set's design fixes their numbers, and
    every resample keeps both classes. A resample is a count per image, so its AUC is w' H v / (n1 n0) with H the
    pairwise wins: all resamples at once, the same draws for both methods."""
    labels = np.asarray(labels)
    positive, negative = np.flatnonzero(labels == 1), np.flatnonzero(labels != 1)
    n1, n0 = len(positive), len(negative)
    if min(n1, n0) < 2:
        raise ValueError(f"an AUC interval needs at least 2 images of each class, got {n1} and {n0}")
    wins = _pair_wins(np.asarray(scores, dtype=np.float64), positive, negative)
    if other is not None:
        wins = wins - _pair_wins(np.asarray(other, dtype=np.float64), positive, negative)
    rng = np.random.default_rng(seed)
    w = rng.multinomial(n1, np.full(n1, 1 / n1), size=resamples).astype(np.float64)
    v = rng.multinomial(n0, np.full(n0, 1 / n0), size=resamples).astype(np.float64)
    draws = np.einsum("bi,ij,bj->b", w, wins, v, optimize=True) / (n1 * n0)
    low, high = np.percentile(draws, [2.5, 97.5])
    return Interval(float(wins.mean()), float(low), float(high))
