"""Start-up benchmark: `nmkit --help` against `python -c "import torch"`, run alternately on the same machine.

    .venv/bin/python benchmarks/startup.py            # 9 runs of each
    .venv/bin/python benchmarks/startup.py --runs 21

A script that calls nmkit once per file pays the start-up every time, so `--help` must not import torch (issue 18's
target: median wall time <= 0.5x that of importing torch). Writes the `startup` section of BENCHMARKS.md and
benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import machine, write_section  # noqa: E402

COMMANDS = {
    "nmkit --help": [sys.executable, "-m", "nmkit.cli", "--help"],
    "nmkit qc check --help": [sys.executable, "-m", "nmkit.cli", "qc", "check", "--help"],
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
}


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    host = machine()
    for command in COMMANDS.values():      # one warm-up run each: the first read of the files from disk
        wall(command)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):             # alternate, so a change in load hits every command alike
        for name, command in COMMANDS.items():
            times[name].append(wall(command))
    median = {name: statistics.median(t) for name, t in times.items()}
    torch_s = median['python -c "import torch"']
    ratio = {name: median[name] / torch_s for name in COMMANDS}
    rows = "\n".join(f"| `{name}` | {median[name]:.2f} | {min(times[name]):.2f}-{max(times[name]):.2f} | "
                     f"{ratio[name]:.2f} |" for name in COMMANDS)
    verdict = "met" if max(ratio["nmkit --help"], ratio["nmkit qc check --help"]) <= 0.5 else "NOT met"
    write_section("startup", f"""## startup

Command: `.venv/bin/python benchmarks/startup.py --runs {args.runs}` (each command run {args.runs} times, alternately,
after one warm-up run). Machine: {host}.

| command | median s | range s | / import torch |
|---|---|---|---|
{rows}

Target: `nmkit --help` and a sub-command's `--help` take at most 0.5x the time of importing torch: **{verdict}**.
tests/test_startup.py keeps every `--help` free of torch, Lightning, matplotlib, SciPy, SimpleITK and pydicom.""")
    out = ROOT / "benchmarks" / "results" / "startup.json"
    out.write_text(json.dumps({"machine": host, "runs": args.runs, "seconds": times, "median": median,
                               "ratio_to_import_torch": ratio}, indent=2) + "\n")
    print(json.dumps({"median": median, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()
