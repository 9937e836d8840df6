"""Helpers for benchmark scripts: the machine's name and replacing one workflow's section of BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import re
import shutil
from pathlib import Path

import torch

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


def write_section(key: str, body: str) -> None:
    """Replace (or append) the section between ``<!-- key:begin -->`` and ``<!-- key:end -->``."""
    begin, end = f"<!-- {key}:begin -->", f"<!-- {key}:end -->"
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# nmkit benchmarks\n\nEach section is written by the script it names; rerun it to refresh.\n"
    block = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    BENCHMARKS.write_text(text)


def install_models(target: Path, models: dict[str, Path], card: str) -> None:
    """Ship trained bundles (file name in ``target`` -> bundle) and their MODEL_CARD.md in a default_model/ folder."""
    target.mkdir(parents=True, exist_ok=True)
    for name, bundle in models.items():
        shutil.copyfile(bundle, target / name)
    (target / "MODEL_CARD.md").write_text(card)
