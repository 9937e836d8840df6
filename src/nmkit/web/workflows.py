"""The workflows the web server offers, in page order, and picking one for an upload."""

from __future__ import annotations

from nmkit.web.analysis import Probe, WebAnalysis
from nmkit.workflows.bonescan.web import WEB as BONESCAN
from nmkit.workflows.gbp.web import WEB as GBP
from nmkit.workflows.pet.web import WEB as PET
from nmkit.workflows.qc.web import WEB as QC
from nmkit.workflows.qc.web import WEB_COR as QC_COR
from nmkit.workflows.qc.web import WEB_COUNTRATE as QC_COUNTRATE
from nmkit.workflows.qc.web import WEB_TOMO as QC_TOMO
from nmkit.workflows.rds.web import WEB as RDS

ANALYSES: dict[str, WebAnalysis] = {a.key: a for a in (QC, GBP, PET, BONESCAN, RDS, QC_COUNTRATE, QC_COR, QC_TOMO)}


def candidates(probe: Probe) -> list[str]:
    """The workflows whose ``claims`` accept this upload."""
    return [key for key, analysis in ANALYSES.items() if analysis.claims(probe)]
