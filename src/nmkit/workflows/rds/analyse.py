"""One chest radiograph analysed in the shape pylinac users know: the lung mask in memory and P(RDS)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nmkit.errors import InputError
from nmkit.io import Image
from nmkit.models import resolve_model_path
from nmkit.workflows.rds.evaluate import analyse_radiograph, load_rds_models
from nmkit.workflows.rds.postprocess import PostProcess
from nmkit.workflows.rds.prepare import read_radiograph, window_to_uint8


@dataclass
class ChestRDSResult:
    """The numbers of one radiograph, as ``nmkit rds predict --json`` gives them (without the PNG's path)."""

    rds_probability: float | None
    lung_area_px: int
    rotation_tta: bool
    in_domain: bool = True
    domain_notes: list[str] = field(default_factory=list)
    ood_distance: float | None = None
    ood_threshold: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ChestRDS:
    """Lung mask and RDS probability of a chest radiograph::

        cxr = ChestRDS("cxr.dcm").analyze()                 # or a PNG path, an nmkit Image or a grey numpy array
        print(cxr.results()); cxr.plot_analyzed_image("lungs.png")
        cxr.mask                                            # the lung mask (H, W) bool

    ``analyze(model=...)`` takes bundle paths or shipped names (one per role: segmenter, classifier), the dict
    that :func:`load_rds_models` returns, or None for the shipped segmenter and classifier.
    """

    def __init__(self, source: str | Path | Image | np.ndarray, post: PostProcess = PostProcess()):
        if isinstance(source, (str, Path)):
            self.grey, self.path = read_radiograph(source), Path(source)
        else:
            pixels = source.array[0] if isinstance(source, Image) else np.asarray(source, dtype=np.float32)
            if pixels.ndim != 2 or not np.all(np.isfinite(pixels)) or float(pixels.max()) == float(pixels.min()):
                raise InputError("array", "a radiograph must be one finite, non-constant 2-D grey image")
            self.grey, self.path = window_to_uint8(pixels), Path("array")
        self.post = post
        self.mask: np.ndarray | None = None
        self._result: ChestRDSResult | None = None

    def analyze(self, model: Any = None) -> ChestRDS:
        models = model if isinstance(model, dict) else load_rds_models(
            None if model is None else [resolve_model_path(m) for m in ([model] if isinstance(model, (str, Path))
                                                                     else model)])
        if "segmenter" not in models:
            raise InputError("model", "the analysis needs a lung segmentation model")
        self.mask, probability, done, check = analyse_radiograph(models, self.grey, self.post, self.path)
        self._result = ChestRDSResult(probability, int(self.mask.sum()), bool(done["rotation_tta"]), **check.as_dict())
        return self

    def results_data(self) -> ChestRDSResult:
        if self._result is None:
            raise RuntimeError("call analyze() first")
        return self._result

    def results(self) -> str:
        r = self.results_data()
        p = "-" if r.rds_probability is None else f"{r.rds_probability:.3f}"
        return f"{self.path.name}: lung area {r.lung_area_px} px, RDS probability {p}"

    def plot_analyzed_image(self, path: str | Path) -> Path:
        """The radiograph with the lung outline."""
        from nmkit.report.figures import contour_figure

        self.results_data()
        contour_figure(self.grey, {"lungs": self.mask}, path, f"{self.path.name}: lung mask", "grey level")
        return Path(path)
