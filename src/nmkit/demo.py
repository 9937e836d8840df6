"""`nmkit demo`: every workflow on built-in phantom samples, one HTML report."""

from __future__ import annotations

from pathlib import Path

from nmkit.report.html import Section, write_report


def run_demo(out: str | Path) -> Path:
    """Run each workflow's demo into ``out`` and write ``out/report.html``."""
    from nmkit.workflows.bonescan.demo import bonescan_demo
    from nmkit.workflows.gbp.demo import gbp_demo
    from nmkit.workflows.pet.demo import pet_demo
    from nmkit.workflows.qc.demo import qc_demo
    from nmkit.workflows.rds.demo import rds_demo

    out = Path(out)
    sections: list[Section] = []
    sections += qc_demo(out / "qc")
    sections += gbp_demo(out / "gbp")
    sections += pet_demo(out / "pet")
    sections += bonescan_demo(out / "bonescan")
    sections += rds_demo(out / "rds")
    return write_report(out / "report.html", "nmkit demo", sections,
                        note="Samples are phantoms with known ground truth (and real radiographs from pydicom-data); "
                             "models are trained on phantoms, not patients.")
