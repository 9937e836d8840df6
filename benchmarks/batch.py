"""Batch benchmark: `nmkit batch qc` over many floods against one `nmkit qc check` call per file, and --jobs 1 vs 2.

    .venv/bin/python benchmarks/batch.py                 # 500 floods (256x256), 20 single calls
    .venv/bin/python benchmarks/batch.py --n 100 --single 5

The floods are phantoms of qc timing seeds (benchmarks/sets.py role: timing: never trained on, never scored). One call per file
is timed on the first --single files and its rate scaled to all n. Writes the `batch` section of BENCHMARKS.md and
benchmarks/results/batch.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import machine, write_section  # noqa: E402

from nmkit.phantoms.flood import FloodSpec, generate_floods  # noqa: E402

SEED = 777_000  # timing seeds 777000, 777100, ... (benchmarks/sets.py): floods made only to be timed here
NMKIT = [sys.executable, "-m", "nmkit.cli"]


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:5])} ... failed: {done.stderr.strip()[-300:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--single", type=int, default=20)
    args = parser.parse_args()
    host = machine()
    with tempfile.TemporaryDirectory() as tmp:
        floods = Path(tmp) / "floods"
        floods.mkdir()
        spec = dataclasses.replace(FloodSpec(), shape=(256, 256), counts=400.0)
        for start in range(0, args.n, 100):
            images, _ = generate_floods(spec, min(100, args.n - start), SEED + start)
            for i, image in enumerate(images):
                np.save(floods / f"flood_{start + i:05d}.npy", image)
        files = sorted(floods.iterdir())
        single = sum(timed([*NMKIT, "qc", "check", str(f), "--json", "--out", f"{tmp}/single"])
                     for f in files[:args.single]) / args.single
        batch = {jobs: timed([*NMKIT, "batch", "qc", str(floods), "--out", f"{tmp}/jobs{jobs}", "--jobs", str(jobs)])
                 for jobs in (1, 2)}
    rate = {"one call per file": 1 / single, "batch --jobs 1": args.n / batch[1], "batch --jobs 2": args.n / batch[2]}
    speedup = rate["batch --jobs 1"] / rate["one call per file"]
    jobs_gain = rate["batch --jobs 2"] / rate["batch --jobs 1"]
    rows = "\n".join(f"| {name} | {r:.1f} |" for name, r in rate.items())
    write_section("batch", f"""## batch

Command: `.venv/bin/python benchmarks/batch.py --n {args.n} --single {args.single}`: {args.n} phantom floods of
256x256 (timing seed {SEED}), the shipped qc model, results and figures written for every flood. One call per file is
the mean of the first {args.single} `nmkit qc check FILE --json` calls (each starts Python, imports torch and loads
the model). Machine: {host}.

| how | floods per second |
|---|---|
{rows}

- batch --jobs 1 against one call per file: {speedup:.1f}x (target >= 5x: **{"met" if speedup >= 5 else "NOT met"}**).
- --jobs 2 against --jobs 1: {jobs_gain:.2f}x (target >= 1.7x: **{"met" if jobs_gain >= 1.7 else "NOT met"}**; two
  worker processes on a machine with {__import__("os").cpu_count()} cores, each worker loads the model once).""")
    (ROOT / "benchmarks" / "results" / "batch.json").write_text(json.dumps(
        {"machine": host, "n": args.n, "single_seconds": single, "batch_seconds": batch, "rate": rate,
         "speedup": speedup, "jobs_gain": jobs_gain}, indent=2) + "\n")
    print(json.dumps(rate, indent=2))


if __name__ == "__main__":
    main()
