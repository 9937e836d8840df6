"""Benchmark scripts live outside the package: make benchmarks/ importable for these tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Smoke runs are tiny: one torch thread does them with less CPU than two (no threads spinning in wait, which
    on a busy machine costs several times the work), and the thread count is restored after each test."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
