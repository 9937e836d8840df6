"""A seeded mutation fuzzer over every reader (see fuzz.py): each of about 1,000 mutated valid files ends in a
result or nmkit's InputError; no other exception, no hang, no allocation over 2 GB, no crash.

NMKIT_FUZZ_COUNT (default 1000) and NMKIT_FUZZ_SEED (default 0) change the campaign."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FUZZER = Path(__file__).with_name("fuzz.py")


def test_every_reader_survives_a_thousand_mutants(tmp_path):
    count, seed = int(os.environ.get("NMKIT_FUZZ_COUNT", "1000")), int(os.environ.get("NMKIT_FUZZ_SEED", "0"))
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2] / "src"),
                                                        os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, str(FUZZER), str(tmp_path), "--count", str(count), "--seed", str(seed),
                           "--timeout", "10", "--memory-gb", "2"], capture_output=True, text=True, env=env,
                          timeout=600)
    current = tmp_path / "current.json"
    assert done.returncode == 0, (f"the fuzzer died (code {done.returncode}) on "
                                  f"{current.read_text() if current.exists() else 'start-up'}: {done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["failures"] == [], json.dumps(report["failures"], indent=1)
    assert sum(sum(k.values()) for k in report["kinds"].values()) == count
    assert all(k["input_error"] > 0 for k in report["kinds"].values())  # every kind was really damaged
