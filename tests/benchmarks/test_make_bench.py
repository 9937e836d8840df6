"""`make bench` runs every benchmark with exactly the options its BENCHMARKS.md section states."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CARD_ONLY = {"benchmarks/qc_default_model.py"}  # writes a model card, not a section
NOT_IN_BENCH = {  # scripts `make bench` cannot run by itself, with the reason
    "benchmarks/qc_battery.py": "compares with pylinac, which pins pydicom < 3: it needs a separate venv (--pylinac)",
    "benchmarks/qc_battery_counts.py": "compares with pylinac, which pins pydicom < 3: it needs a separate venv",
}
HELPERS = {"benchmarks/common.py", "benchmarks/sets.py"}  # imported by the benchmarks, not run


def bench_commands() -> list[str]:
    """The `bench` target's benchmark lines, from `benchmarks/` on, with the Makefile's variables filled in."""
    text = (ROOT / "Makefile").read_text()
    variables = dict(re.findall(r"^(\w+) := (.*)$", text, re.M))
    recipe = re.search(r"^bench:.*\n((?:\t.*\n)+)", text, re.M).group(1)
    lines = []
    for line in recipe.splitlines():
        line = re.sub(r"\$\((\w+)\)", lambda m: variables[m.group(1)], line.strip())
        if "benchmarks/" in line:
            lines.append(line[line.index("benchmarks/"):])
    return lines


def test_every_bench_line_runs_a_stated_command():
    stated = {c[c.index("benchmarks/"):] for c in re.findall(r"Command: `([^`]*)`", (ROOT / "BENCHMARKS.md").read_text())}
    lines = bench_commands()
    assert any(line.startswith("benchmarks/pet.py") for line in lines)
    assert any(line.startswith("benchmarks/qc.py") for line in lines)
    assert [line for line in lines if line not in stated and line.split()[0] not in CARD_ONLY] == []


def test_every_benchmark_script_is_in_bench_or_says_why_not():
    scripts = {f"benchmarks/{p.name}" for p in (ROOT / "benchmarks").glob("*.py")}
    run = {line.split()[0] for line in bench_commands()}
    assert scripts - run - HELPERS == set(NOT_IN_BENCH)
