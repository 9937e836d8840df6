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
from nmkit.metrics.ood import domain_check
from nmkit.metrics.uniformity import UniformityResult, nema_uniformity
from nmkit.models import as_model, load_model, shipped_model
from nmkit.report.figures import overlay_figure
from nmkit.workflows.qc.coldmap import FAMILY_WISE_ALPHA, ColdRegionMap, cold_region_map
from nmkit.workflows.qc.gate import admit
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
    forced: str | None = None
    in_domain: bool = True
    domain_notes: list[str] = field(default_factory=list)
    ood_distance: float | None = None
    ood_threshold: float | None = None
    cold_regions: list[dict[str, Any]] = field(default_factory=list)
    map_threshold_sigma: float = 0.0
    map_places: float = 0.0
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
    reaches ``threshold``. The map is the cold-region significance from a scanning matched filter, in
    units of its empirical null, kept only where it is significant family-wise (5 %) over the places
    searched (:mod:`nmkit.workflows.qc.coldmap`): it shows where, the CNN says whether.
    """

    def __init__(self, source: str | Path | Image | np.ndarray, iu_limit: float = 5.0, du_limit: float | None = None,
                 threshold: float = 0.5, bin_factor: int | None = None, pixel_mm: float | None = None,
                 force: bool = False):
        self.image = as_image(source, pixel_mm)
        if self.image.path is None:
            self.image.path = Path("image")
        # Refuse what is not a flood (InputError) unless forced; a forced result says so.
        self.forced = admit(self.image).enforce(self.image.path, "qc check", force)
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
        check, probabilities = domain_check(model, info, lambda: defect_probabilities(model, self.counts[None]))
        probability = float(probabilities[0])
        self.cold_map: ColdRegionMap = cold_region_map(self.counts, MAP_OBSERVER, FAMILY_WISE_ALPHA)
        self.significance = self.cold_map.sigma
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
            model=str(info.get("model_id", info.get("model_name", "given model"))), forced=self.forced,
            **check.as_dict(), cold_regions=[region.as_dict() for region in self.cold_map.regions],
            map_threshold_sigma=round(self.cold_map.threshold, 2), map_places=round(self.cold_map.places, 1))
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
        lines = [f"{r.file}: {r.verdict.upper()}" + (f" ({r.forced})" if r.forced else ""),
                 f"  UFOV IU {r.ufov_iu:.2f} %  DU {r.ufov_du:.2f} %   CFOV IU {r.cfov_iu:.2f} %  DU {r.cfov_du:.2f} %"
                 f"   (NEMA, {r.bin_factor}x{r.bin_factor} summing"
                 + (f", {r.binned_pixel_mm:.2f} mm pixels)" if r.binned_pixel_mm else ", pixel size unknown)"),
                 f"  AI defect probability {r.defect_probability:.3f}; strongest cold region at row {r.defect_row},"
                 f" col {r.defect_col} ({r.defect_significance:.1f} sigma)",
                 f"  significant cold regions (family-wise 5 % over {r.map_places:.0f} places, above "
                 f"{r.map_threshold_sigma:.1f} sigma): {len(r.cold_regions)}"]
        lines += [f"  - {reason}" for reason in r.reasons]
        if not r.in_domain:
            lines.append(f"  the AI probability is unreliable here: {'; '.join(r.domain_notes)}")
        if r.map_png:
            lines.append(f"  map: {r.map_png}")
        return "\n".join(lines)

    def plot_analyzed_image(self, path: str | Path) -> Path:
        """The flood with its UFOV and CFOV outlines and the significant cold regions over it; sets ``map_png``."""
        r = self._require()
        title = f"{Path(r.file).name}: {r.verdict} (AI p={r.defect_probability:.2f}, UFOV IU {r.ufov_iu:.2f} %)"
        n = len(r.cold_regions)
        note = (f"{n} significant cold region{'s' if n != 1 else ''} (family-wise 5 %: "
                f"> {r.map_threshold_sigma:.1f} sigma, {r.map_places:.0f} places)")
        marks = [(c["row"], c["col"], f"{c['sigma']:.1f} sigma") for c in r.cold_regions[:3]]
        overlay_figure(self.counts, self.cold_map.significant, path, title, image_label="counts",
                       overlay_label="cold-region significance (sigma, empirical null)", marks=marks,
                       outlines=self._field_outlines(), note=note)
        r.map_png = str(path)
        return Path(path)

    def _field_outlines(self) -> dict[str, np.ndarray]:
        """NEMA's UFOV and CFOV (found on the binned flood) at the flood's own pixel size."""
        u = self.uniformity
        out = {}
        for name, mask in (("UFOV", u.ufov_mask), ("CFOV", u.cfov_mask)):
            full = np.zeros(self.counts.shape, dtype=bool)
            grown = np.kron(mask, np.ones((u.bin_factor, u.bin_factor), dtype=bool))
            full[:grown.shape[0], :grown.shape[1]] = grown
            out[name] = full
        return out
