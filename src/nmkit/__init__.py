"""nmkit: deep learning workflows for nuclear medicine imaging.

The analysis classes load on first use, so ``import nmkit`` stays light::

    from nmkit import FloodQC, GatedEF, DelayedPET, KneeDJD, ChestRDS
    FloodQC("flood.dcm").analyze().results()
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_CLASSES = {
    "FloodQC": "nmkit.workflows.qc.analyse",
    "GatedEF": "nmkit.workflows.gbp.analyse",
    "DelayedPET": "nmkit.workflows.pet.analyse",
    "KneeDJD": "nmkit.workflows.bonescan.analyse",
    "ChestRDS": "nmkit.workflows.rds.analyse",
    "CountRateQC": "nmkit.workflows.qc.battery.countrate",
    "SensitivityQC": "nmkit.workflows.qc.battery.sensitivity",
    "CenterOfRotationQC": "nmkit.workflows.qc.battery.cor",
    "Image": "nmkit.io.image",
    "FourBarQC": "nmkit.workflows.qc.battery.fourbar",
    "QuadrantQC": "nmkit.workflows.qc.battery.quadrant",
    "LinearityQC": "nmkit.workflows.qc.battery.linearity",
    "TomoUniformityQC": "nmkit.workflows.qc.battery.tomo",
    "TomoContrastQC": "nmkit.workflows.qc.battery.tomo",
}

__all__ = ["__version__", *_CLASSES]


def __getattr__(name: str):
    if name in _CLASSES:
        return getattr(importlib.import_module(_CLASSES[name]), name)
    raise AttributeError(f"module 'nmkit' has no attribute {name!r}")
