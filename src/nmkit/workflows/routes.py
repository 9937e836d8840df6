"""The DICOM node's routing table, fed by the workflows: each one's route, in the order they are tried.

Gated and whole-body NM come before the flood route, which takes the remaining single-frame NM images.
"""

from __future__ import annotations

from pathlib import Path

from nmkit.dicom.route import Route


def node_routes(data_dir: str | Path) -> list[Route]:
    """Every workflow's :class:`~nmkit.dicom.route.Route`; ``data_dir`` holds the QC history database."""
    from nmkit.workflows.bonescan.dicom_results import node_route as bonescan
    from nmkit.workflows.gbp.dicom_results import node_route as gbp
    from nmkit.workflows.pet.dicom_results import node_route as pet
    from nmkit.workflows.qc.dicom_results import node_route as qc
    from nmkit.workflows.rds.dicom_results import node_route as rds

    return [route(Path(data_dir)) for route in (gbp, bonescan, qc, pet, rds)]
