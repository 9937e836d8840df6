"""`nmkit demo`: every workflow on built-in phantom samples, one HTML report."""

from __future__ import annotations

from pathlib import Path

from nmkit.report.html import Section, write_report


def run_demo(out: str | Path) -> Path:
    """Run each workflow's demo into ``out`` and write ``out/report.html``."""
    from nmkit.workflows.qc.demo import qc_demo

    out = Path(out)
    sections: list[Section] = []
    sections += qc_demo(out / "qc")
    return write_report(out / "report.html", "nmkit demo", sections,
                        note="Samples are phantoms with known ground truth; models are trained on phantoms, not patients.")
