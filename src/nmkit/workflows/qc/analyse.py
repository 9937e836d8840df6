"""`FloodQC`: NEMA NU 1 uniformity plus the AI defect verdict and map for one flood (pylinac-style)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nmkit.io import Image
from nmkit.io.image import as_image
from nmkit.metrics.uniformity import UniformityResult, nema_uniformity
from nmkit.models import as_model, load_model, shipped_model
from nmkit.report.figures import overlay_figure
from nmkit.workflows.qc.observer import MatchedFilterObserver

DEFAULT_MODEL = "qc-default.pt"
# The map needs position, not the full detection search: three disc sizes, cosine edge (about 20 ms at
# 256x256). One instance, so its FFT plan is reused across floods of the same shape.
MAP_OBSERVER = MatchedFilterObserver(diameters=(10, 20, 40), brushes=(2,))


def default_model_path() -> Path:
    """The small phantom-trained model shipped inside the package (see its MODEL_CARD.md)."""
    return shipped_model("nmkit.workflows.qc", DEFAULT_MODEL)


def load_qc_model(path: str | Path | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """A QC model bundle from ``path``, or the shipped default model."""
    return load_model(path or None, default_model_path(), "qc", "nmkit train configs/qc-default.yaml")


@torch.no_grad()
def defect_probabilities(model: nn.Module, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Softmax probability of 'defect' for a stack of same-size floods in counts (N, H, W)."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size], dtype=np.float32))[:, None]
        out.append(model(x).softmax(dim=1)[:, 1].double().numpy())
    return np.concatenate(out) if out else np.zeros(0)


@dataclass
class FloodQCResult:
    """Everything `nmkit qc check` reports for one flood; ``as_dict()`` has the stable JSON keys."""

    file: str
    ufov_iu: float
    ufov_du: float
    cfov_iu: float
    cfov_du: float
    defect_probability: float
    verdict: str
    reasons: list[str]
    defect_row: int
    defect_col: int
    defect_significance: float
    bin_factor: int
    binned_pixel_mm: float | None
    model: str
    map_png: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        return d


class FloodQC:
    """Analyse one flood: ``FloodQC(path).analyze()``, then ``results()``, ``results_data()``,
    ``plot_analyzed_image(path)``.

    The verdict is "fail" when UFOV or CFOV integral uniformity exceeds ``iu_limit`` (%), when a
    differential uniformity exceeds ``du_limit`` (if given), or when the model's defect probability
    reaches ``threshold``. The map is the cold-region significance (in standard deviations of
    Poisson noise) from a scanning matched filter: it shows where, the CNN says whether.
    """

    def __init__(self, source: str | Path | Image | np.ndarray, iu_limit: float = 5.0, du_limit: float | None = None,
                 threshold: float = 0.5, bin_factor: int | None = None, pixel_mm: float | None = None):
        self.image = as_image(source, pixel_mm)
        if self.image.path is None:
            self.image.path = Path("image")
        self.iu_limit, self.du_limit, self.threshold, self.bin_factor = iu_limit, du_limit, threshold, bin_factor
        self.counts = self.image.plane()
        self.uniformity: UniformityResult | None = None
        self._result: FloodQCResult | None = None

    def analyze(self, model: Any = None, info: dict[str, Any] | None = None) -> FloodQC:
        """Compute uniformity, the defect probability and the defect map; ``model`` is a bundle path, a shipped
        model's name, a loaded (network, info) pair, a network, or None for the shipped default."""
        name = str(self.image.path)
        spacing = self.image.pixel_spacing if self.image.metadata.get("spacing_known", True) else None
        bin_factor = self.bin_factor
        if spacing is None and bin_factor is None:
            # Pixel size unknown: sum to a matrix of about 64 pixels across, as NMQC does for 256x256 floods.
            bin_factor = max(1, round(max(self.counts.shape) / 64))
        self.uniformity = nema_uniformity(self.counts, spacing, bin_factor=bin_factor, source=name)
        model, info = as_model(model, info, load_qc_model)
        probability = float(defect_probabilities(model, self.counts[None])[0])
        self.significance, _ = MAP_OBSERVER.statistic_map(self.counts)
        peak = np.unravel_index(int(np.nanargmax(self.significance)), self.significance.shape)
        u = self.uniformity
        reasons = []
        if max(u.ufov_iu, u.cfov_iu) > self.iu_limit:
            reasons.append(f"integral uniformity {max(u.ufov_iu, u.cfov_iu):.2f} % exceeds {self.iu_limit:g} %")
        if self.du_limit is not None and max(u.ufov_du, u.cfov_du) > self.du_limit:
            reasons.append(f"differential uniformity {max(u.ufov_du, u.cfov_du):.2f} % exceeds {self.du_limit:g} %")
        if probability >= self.threshold:
            reasons.append(f"AI finds a local defect (probability {probability:.2f})")
        self._result = FloodQCResult(
            file=name, ufov_iu=round(u.ufov_iu, 3), ufov_du=round(u.ufov_du, 3), cfov_iu=round(u.cfov_iu, 3),
            cfov_du=round(u.cfov_du, 3), defect_probability=round(probability, 4),
            verdict="fail" if reasons else "pass", reasons=reasons, defect_row=int(peak[0]), defect_col=int(peak[1]),
            defect_significance=round(float(self.significance[peak]), 2), bin_factor=int(u.bin_factor),
            binned_pixel_mm=None if u.binned_pixel_mm is None else round(float(u.binned_pixel_mm), 3),
            model=str(info.get("model_id", info.get("model_name", "given model"))))
        return self

    def _require(self) -> FloodQCResult:
        if self._result is None:
            raise RuntimeError("call analyze() first")
        return self._result

    def results_data(self) -> FloodQCResult:
        """The results as a dataclass (``.as_dict()`` for JSON)."""
        return self._require()

    def results(self) -> str:
        """A short human-readable summary."""
        r = self._require()
        lines = [f"{r.file}: {r.verdict.upper()}",
                 f"  UFOV IU {r.ufov_iu:.2f} %  DU {r.ufov_du:.2f} %   CFOV IU {r.cfov_iu:.2f} %  DU {r.cfov_du:.2f} %"
                 f"   (NEMA, {r.bin_factor}x{r.bin_factor} summing"
                 + (f", {r.binned_pixel_mm:.2f} mm pixels)" if r.binned_pixel_mm else ", pixel size unknown)"),
                 f"  AI defect probability {r.defect_probability:.3f}; strongest cold region at row {r.defect_row},"
                 f" col {r.defect_col} ({r.defect_significance:.1f} sigma)"]
        lines += [f"  - {reason}" for reason in r.reasons]
        if r.map_png:
            lines.append(f"  map: {r.map_png}")
        return "\n".join(lines)

    def plot_analyzed_image(self, path: str | Path) -> Path:
        """The flood with the cold-region significance map over it; also sets ``map_png``."""
        r = self._require()
        title = f"{Path(r.file).name}: {r.verdict} (AI p={r.defect_probability:.2f}, UFOV IU {r.ufov_iu:.2f} %)"
        overlay_figure(self.counts, self.significance, path, title, image_label="counts",
                       overlay_label="cold-region significance (sigma)", overlay_threshold=3.0,
                       marks=[(r.defect_row, r.defect_col, f"{r.defect_significance:.1f} sigma")])
        r.map_png = str(path)
        return Path(path)
