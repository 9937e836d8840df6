"""LV ejection fraction from an ECG-gated blood-pool study: ROIs, ED/ES, background, EF, time-activity curve.

The study's method (J Radiol Sci Technol 2022): background ROI = the lower-right (4th) quadrant, about the
ES ROI's centroid, of dilate(ES ROI, 8) minus dilate(ES ROI, 3) on the 256x256 matrix;
net counts = sum over the ROI of (pixel - mean background); EF = (netED - netES) / netED x 100.

``spill`` (an option, not the study's): the camera blur (system FWHM, :data:`SYSTEM_FWHM_MM`) both spreads LV
counts into a ring just outside the ROI, where the study's background sits, and carries part of the LV's own
counts out of a tight ROI, more of a small ES ROI than of the ED one. So the background is taken in the same
inferolateral quadrant but 1 to 2 FWHM beyond the ES border, out of the LV's spill, and each frame's net counts are
divided by the fraction of a blurred blood pool that stays inside its ROI (:func:`recovery_fraction`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from nmkit.errors import InputError
from nmkit.io import Image, load_image
from nmkit.io.image import as_image
from nmkit.metrics.ood import DomainCheck, domain_check
from nmkit.models import as_model, load_model, shipped_model
from nmkit.report.figures import contour_figure, curve_figure
from nmkit.workflows.gbp.gate import admit, implausible

MIN_FRAMES = 8
STUDY_MATRIX = 256  # the study's dilation iterations (8 and 3) are in pixels of a 256x256 matrix
BACKGROUND_METHODS = ("study", "crescent", "spill")
DEFAULT_MODEL = "gbp-default.pt"
SYSTEM_FWHM_MM = 12.0
"""Typical planar resolution of a MUGA acquisition at the heart's depth: a LEHR collimator (8-10 mm) with 64x64
pixels of about 6 mm, resampled for display (the phantom's: 8-10 mm camera blur, 6 mm pixels, bilinear: ~11.5 mm)."""
ASSUMED_FOV_MM = 384.0
MIN_EF_SPREAD = 0.5  # EF points: the least spread an interval is built on
"""Field of view assumed when a file gives no pixel size (64 pixels of 6 mm), so mm distances can be placed."""


def default_model_path() -> Path:
    """The small phantom-trained LV model shipped inside the package (see its MODEL_CARD.md)."""
    return shipped_model("nmkit.workflows.gbp", DEFAULT_MODEL)


def load_gbp_model(path: str | Path | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """An LV segmentation bundle from ``path``, or the shipped default model."""
    return load_model(path or None, default_model_path(), "gbp", "python benchmarks/gbp.py --install")


def load_gated_study(source: str | Path | Image) -> Image:
    """A gated study as an Image of >= 8 equal-size frames: a multi-frame file, or a folder of 2-D frames."""
    if isinstance(source, Image):
        image = source
    elif Path(source).is_dir():
        image = _frames_from_folder(Path(source))
    else:
        image = load_image(source)
    where = image.path or "study"
    if image.n_frames == 1:
        raise InputError(where, "is a static (1-frame) image, but a gated study needs one frame per time slot")
    if image.n_frames < MIN_FRAMES:
        raise InputError(where, f"has {image.n_frames} frames, but a gated study needs at least {MIN_FRAMES}")
    if not np.any(image.array):
        raise InputError(where, "every frame is zero (no counts)")
    if image.array.min() < 0:
        raise InputError(where, "has negative pixel values, which counts cannot be")
    return image


def _frames_from_folder(folder: Path) -> Image:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise InputError(folder, "is an empty folder, not a gated study")
    frames = [load_image(f) for f in files]
    shapes = {f.plane().shape for f in frames}
    if len(shapes) > 1:
        raise InputError(folder, f"holds frames of different sizes ({', '.join(map(str, sorted(shapes)))})")
    first = frames[0]
    return Image(np.stack([f.plane() for f in frames]), first.pixel_spacing, first.modality,
                 {**first.metadata, "frame_files": [f.name for f in files]}, folder)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected region of a 2-D mask, holes filled (an ROI is one closed region)."""
    labels, n = ndimage.label(mask)
    if n == 0:
        return np.zeros_like(mask, dtype=bool)
    sizes = ndimage.sum_labels(np.ones_like(labels), labels, index=np.arange(1, n + 1))
    return ndimage.binary_fill_holes(labels == 1 + int(np.argmax(sizes)))


@torch.no_grad()
def segment_frames(model: nn.Module, frames: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """LV masks (F, H, W) bool from counts (F, H, W): argmax of the model, largest region per frame."""
    model.eval()
    labels = []
    for start in range(0, len(frames), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(frames[start:start + batch_size], dtype=np.float32))[:, None]
        labels.append(model(x).argmax(1).numpy())
    return np.stack([largest_component(m > 0) for m in np.concatenate(labels)])


def _disc(radius: int) -> np.ndarray:
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    return yy ** 2 + xx ** 2 <= radius ** 2


def _scaled(pixels_at_256: float, shape: tuple[int, int]) -> int:
    return max(1, int(round(pixels_at_256 * max(shape) / STUDY_MATRIX)))


def _pixel_mm(shape: tuple[int, ...], pixel_mm: float | None) -> float:
    return float(pixel_mm) if pixel_mm else ASSUMED_FOV_MM / max(shape)


def background_roi(es_mask: np.ndarray, method: str = "study", pixel_mm: float | None = None,
                   fwhm_mm: float = SYSTEM_FWHM_MM) -> np.ndarray:
    """The background ROI beside the ES LV ROI.

    ``study``: the lower-right quadrant (rows below and columns right of the ES centroid) of
    dilate(ES, 8) minus dilate(ES, 3), iterations of a 3x3 cross scaled from the 256x256 matrix.
    ``crescent``: the guideline's posterolateral crescent: a band 2 to 5 native (64-matrix) pixels outside
    the ES border, between 2 and 6 o'clock about the ES centroid (the LV's free wall in the LAO view).
    ``spill``: the same inferolateral quadrant as ``study``, but the band from 1 to 2 system FWHM (``fwhm_mm``)
    beyond the ES border (Euclidean distance, ``pixel_mm`` per pixel; without it the field of view is taken as
    :data:`ASSUMED_FOV_MM`), out of the LV's spill (one FWHM out, a blurred edge is below 1 % of its plateau).
    """
    es_mask = np.asarray(es_mask, dtype=bool)
    if not es_mask.any():
        raise ValueError("the ES ROI is empty")
    rows, cols = np.indices(es_mask.shape)
    cy, cx = ndimage.center_of_mass(es_mask)
    if method == "spill":
        if not fwhm_mm > 0:
            raise ValueError(f"the system FWHM must be positive, not {fwhm_mm!r}")
        distance = ndimage.distance_transform_edt(~es_mask) * _pixel_mm(es_mask.shape, pixel_mm)
        return (distance > fwhm_mm) & (distance <= 2 * fwhm_mm) & (rows > cy) & (cols > cx)
    if method == "study":
        cross = ndimage.generate_binary_structure(2, 1)
        outer = ndimage.binary_dilation(es_mask, cross, iterations=_scaled(8, es_mask.shape))
        inner = ndimage.binary_dilation(es_mask, cross, iterations=_scaled(3, es_mask.shape))
        return outer & ~inner & (rows > cy) & (cols > cx)
    if method == "crescent":
        native = max(es_mask.shape) / 64
        inner = ndimage.binary_dilation(es_mask, _disc(max(1, round(2 * native))))
        outer = ndimage.binary_dilation(es_mask, _disc(max(2, round(5 * native))))
        angle = np.degrees(np.arctan2(rows - cy, cols - cx))  # 0 = 3 o'clock, +90 = 6 o'clock (rows grow down)
        return outer & ~inner & (angle >= -30) & (angle <= 90)
    raise ValueError(f"unknown background method {method!r} ({', '.join(BACKGROUND_METHODS)})")


def recovery_fraction(roi: np.ndarray, pixel_mm: float | None = None, fwhm_mm: float = SYSTEM_FWHM_MM) -> float:
    """The share of a blood pool's counts that a Gaussian camera blur of ``fwhm_mm`` leaves inside its own ROI.

    The pool fills the ROI with a projected thickness that grows as the square root of the depth from the
    border (a convex chamber seen in projection); the rest spills outside the ROI. A small (ES) ROI keeps less
    than a large (ED) one, which is why uncorrected ROI counts overstate the EF.
    """
    roi = np.asarray(roi, dtype=bool)
    if not roi.any():
        raise ValueError("the ROI is empty")
    sigma = fwhm_mm / (2 * np.sqrt(2 * np.log(2))) / _pixel_mm(roi.shape, pixel_mm)
    pad = int(np.ceil(4 * sigma)) + 1
    rows, cols = np.nonzero(roi)
    box = np.pad(roi[rows.min():rows.max() + 1, cols.min():cols.max() + 1], pad)
    thickness = np.sqrt(ndimage.distance_transform_edt(box))
    return float(ndimage.gaussian_filter(thickness, sigma, mode="constant")[box].sum() / thickness.sum())


def net_counts(frame: np.ndarray, roi: np.ndarray, background_per_pixel: float) -> float:
    """Sum over the ROI of (pixel - mean background)."""
    return float(frame[roi].sum() - roi.sum() * background_per_pixel)


def ejection_fraction(ed_frame: np.ndarray, es_frame: np.ndarray, ed_roi: np.ndarray, es_roi: np.ndarray,
                      background: np.ndarray, recovery: tuple[float, float] = (1.0, 1.0)
                      ) -> tuple[float, float, float, float]:
    """(EF %, net ED counts, net ES counts, background counts/pixel) with the background taken on the ES frame;
    net counts are divided by ``recovery`` (ED, ES), the ROIs' :func:`recovery_fraction` (1: no correction)."""
    if not background.any():
        raise ValueError("the background ROI is empty")
    bg = float(es_frame[background].mean())
    ed = net_counts(ed_frame, ed_roi, bg) / recovery[0]
    es = net_counts(es_frame, es_roi, bg) / recovery[1]
    if ed <= 0:
        raise ValueError("net ED counts are not positive: the background exceeds the LV")
    return (ed - es) / ed * 100, ed, es, bg


def ef_perturbations(ed_frame: np.ndarray, es_frame: np.ndarray, ed_roi: np.ndarray, es_roi: np.ndarray,
                     background: np.ndarray, recovery: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """The EF (%) with each ROI's boundary moved by -1, 0 and +1 pixel (erode, keep, dilate): 9 values whose
    spread says how much the EF hangs on where the outline runs."""
    def moved(roi: np.ndarray) -> list[np.ndarray]:
        eroded = ndimage.binary_erosion(roi)
        return [eroded if eroded.any() else roi, roi, ndimage.binary_dilation(roi)]

    return np.array([ejection_fraction(ed_frame, es_frame, a, b, background, recovery)[0]
                     for a in moved(ed_roi) for b in moved(es_roi)])


def ef_interval(ef: float, perturbed: np.ndarray, scale: float, min_spread: float = MIN_EF_SPREAD
                ) -> tuple[float, float]:
    """EF +- ``scale`` x the SD of the perturbed EFs (at least ``min_spread`` points), clipped to 0-100 %.
    ``scale`` and ``min_spread`` are stored in the model bundle (``info["ef_interval"]``): the split-conformal
    factor fitted so the interval covers the true EF at its level on validation phantoms, and the floor chosen
    there (a large floor makes the width the same for every study)."""
    half = scale * max(float(np.std(perturbed)), min_spread)
    return max(0.0, ef - half), min(100.0, ef + half)


def find_ed_es(curve: np.ndarray, ecg_gated: bool) -> tuple[int, int, str]:
    """(ED frame, ES frame, how ED was found): ED is frame 0 of an R-wave-triggered study, else the
    curve's maximum; ES is the curve's minimum."""
    es = int(np.argmin(curve))
    if ecg_gated:
        return 0, es, "ecg"
    return int(np.argmax(curve)), es, "curve"


@dataclass
class GatedEFResult:
    """Everything `nmkit gbp ef` reports for one study; ``as_dict()`` has the stable JSON keys."""

    file: str
    ef: float
    ed_frame: int
    es_frame: int
    ed_source: str
    ed_counts: float
    es_counts: float
    background_per_pixel: float
    background_method: str
    ed_roi_pixels: int
    es_roi_pixels: int
    n_frames: int
    model: str
    pixel_mm: float | None = None
    recovery_ed: float = 1.0
    recovery_es: float = 1.0
    ef_low: float | None = None
    ef_high: float | None = None
    ef_interval_level: float | None = None
    forced: str | None = None
    in_domain: bool = True
    domain_notes: list[str] = field(default_factory=list)
    ood_distance: float | None = None
    ood_threshold: float | None = None
    overlay_png: str | None = None
    curve_png: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class GatedEF:
    """Analyse one gated study: ``GatedEF(path).analyze()``, then ``results()``, ``results_data()``,
    ``plot_analyzed_image(path)``, ``plot_curve(path)``.

    Every frame is segmented; the LV time-activity curve (net counts per frame, background from the
    ES frame) gives ES, and ED comes from the ECG gating (frame 0) or the curve. With ``background="spill"``
    the background lies 1-2 ``fwhm_mm`` out and every frame's net counts are corrected for the LV counts the
    blur carries out of its ROI (``recovery_ed``/``recovery_es`` in the result; 1 for the other methods).
    """

    def __init__(self, source: str | Path | Image | np.ndarray, background: str = "study",
                 fwhm_mm: float = SYSTEM_FWHM_MM, pixel_mm: float | None = None, force: bool = False):
        if background not in BACKGROUND_METHODS:
            raise InputError("--background", f"must be one of {', '.join(BACKGROUND_METHODS)}, not {background!r}")
        if not (np.isfinite(fwhm_mm) and 1 <= fwhm_mm <= 40):
            raise InputError("--fwhm-mm", f"must be a system resolution of 1-40 mm, not {fwhm_mm!r}")
        self.image = load_gated_study(as_image(source, pixel_mm) if isinstance(source, np.ndarray) else source)
        self.forced = admit(self.image).enforce(self.image.path or "study", "gbp ef", force)
        self.frames = self.image.array
        self.background_method = background
        self.fwhm_mm = float(fwhm_mm)
        # mm geometry (the spill method) needs the pixel size; without one, ASSUMED_FOV_MM is used
        spacing_known = self.image.metadata.get("spacing_known", self.image.pixel_spacing != (1.0, 1.0))
        self.pixel_mm = float(np.mean(self.image.pixel_spacing)) if spacing_known else None
        self._result: GatedEFResult | None = None

    def _background(self, es_mask: np.ndarray) -> np.ndarray:
        return background_roi(es_mask, self.background_method, self.pixel_mm, self.fwhm_mm)

    def analyze(self, model: Any = None, info: dict[str, Any] | None = None,
                masks: np.ndarray | None = None) -> GatedEF:
        """Segment (or take ``masks``), find ED/ES, place the background ROI and compute the EF; ``model`` is a
        bundle path, a shipped model's name, a loaded (network, info) pair, a network, or None (shipped)."""
        check = DomainCheck([])
        if masks is None:
            model, info = as_model(model, info, load_gbp_model)
            check, masks = domain_check(model, info, lambda: segment_frames(model, self.frames))
        self.masks = np.asarray(masks, dtype=bool)
        where = self.image.path or "study"
        if not self.masks.any(axis=(1, 2)).all():
            raise InputError(where, "no LV was found on at least one frame")
        roi_counts = np.array([f[m].sum() for f, m in zip(self.frames, self.masks)], dtype=np.float64)
        roi_pixels = self.masks.sum(axis=(1, 2))
        recovery = (np.array([recovery_fraction(m, self.pixel_mm, self.fwhm_mm) for m in self.masks])
                    if self.background_method == "spill" else np.ones(len(self.masks)))
        # The background belongs on the ES frame, which the net curve picks: start from the raw curve's ES.
        es0 = int(np.argmin(roi_counts))
        try:
            self.background = self._background(self.masks[es0])
            if not self.background.any():
                raise ValueError("the background ROI is empty")
            bg = float(self.frames[es0][self.background].mean())
            ed, es, source = find_ed_es((roi_counts - roi_pixels * bg) / recovery,
                                        bool(self.image.metadata.get("gated")))
            if es != es0:
                self.background = self._background(self.masks[es])
            ef, ed_counts, es_counts, bg = ejection_fraction(self.frames[ed], self.frames[es], self.masks[ed],
                                                             self.masks[es], self.background,
                                                             (recovery[ed], recovery[es]))
        except ValueError as err:
            raise InputError(where, str(err)) from err
        self.curve = (roi_counts - roi_pixels * bg) / recovery
        check.notes += implausible(self.masks[ed], self.curve, ef)
        self.ef_spread = ef_perturbations(self.frames[ed], self.frames[es], self.masks[ed], self.masks[es],
                                          self.background, (recovery[ed], recovery[es]))
        calibration = (info or {}).get("ef_interval") or {}
        low, high = (ef_interval(ef, self.ef_spread, float(calibration["scale"]),
                                 float(calibration.get("min_spread", MIN_EF_SPREAD)))
                     if calibration.get("scale") else (None, None))
        self._result = GatedEFResult(
            file=str(where), ef=round(ef, 2), ed_frame=ed, es_frame=es, ed_source=source,
            ed_counts=round(ed_counts, 1), es_counts=round(es_counts, 1), background_per_pixel=round(bg, 3),
            background_method=self.background_method, ed_roi_pixels=int(self.masks[ed].sum()),
            es_roi_pixels=int(self.masks[es].sum()), n_frames=len(self.frames),
            pixel_mm=None if self.pixel_mm is None else round(self.pixel_mm, 4),
            recovery_ed=round(float(recovery[ed]), 4), recovery_es=round(float(recovery[es]), 4), forced=self.forced,
            ef_low=None if low is None else round(low, 2), ef_high=None if high is None else round(high, 2),
            ef_interval_level=calibration.get("level") if low is not None else None, **check.as_dict(),
            model="given masks" if info is None and model is None else
            str((info or {}).get("model_id", (info or {}).get("model_name", "given model"))))
        return self

    def results_data(self) -> GatedEFResult:
        """The results as a dataclass (``.as_dict()`` for JSON)."""
        if self._result is None:
            raise RuntimeError("call analyze() first")
        return self._result

    def results(self) -> str:
        """A short human-readable summary."""
        r = self.results_data()
        interval = (f" ({100 * r.ef_interval_level:.0f} % interval {r.ef_low:.1f}-{r.ef_high:.1f} %)"
                    if r.ef_low is not None else "")
        lines = [f"{r.file}: LVEF {r.ef:.1f} %{interval}" + (f" ({r.forced})" if r.forced else ""),
                 f"  ED frame {r.ed_frame} ({r.ed_source}), ES frame {r.es_frame} of {r.n_frames}; "
                 f"net counts ED {r.ed_counts:.0f}, ES {r.es_counts:.0f}",
                 f"  background ({r.background_method}) {r.background_per_pixel:.2f} counts/pixel; "
                 f"ROI pixels ED {r.ed_roi_pixels}, ES {r.es_roi_pixels}"]
        if r.background_method == "spill":
            size = (f"{r.pixel_mm:g} mm pixels" if r.pixel_mm else
                    f"pixel size not in the file: {ASSUMED_FOV_MM:g} mm field of view assumed")
            lines.append(f"  spill correction for {self.fwhm_mm:g} mm FWHM ({size}): net counts divided by "
                         f"{r.recovery_ed:.3f} (ED) and {r.recovery_es:.3f} (ES)")
        if not r.in_domain:
            lines.append(f"  the EF is unreliable here: {'; '.join(r.domain_notes)}")
        lines += [f"  {name}: {value}" for name, value in (("overlay", r.overlay_png), ("curve", r.curve_png)) if value]
        return "\n".join(lines)

    def plot_analyzed_image(self, path: str | Path) -> Path:
        """ED and ES frames side by side with the LV ROIs and the background ROI; sets ``overlay_png``."""
        r = self.results_data()
        image = np.concatenate([self.frames[r.ed_frame], self.frames[r.es_frame]], axis=1)
        pad = np.zeros_like(self.masks[0])
        masks = {"LV ROI": np.concatenate([self.masks[r.ed_frame], self.masks[r.es_frame]], axis=1),
                 f"background ({r.background_method})": np.concatenate([pad, self.background], axis=1)}
        interval = f" ({r.ef_low:.1f}-{r.ef_high:.1f})" if r.ef_low is not None else ""
        contour_figure(image, masks, path, f"{Path(r.file).name}: ED (left) and ES (right), LVEF {r.ef:.1f} %{interval}")
        r.overlay_png = str(path)
        return Path(path)

    def plot_curve(self, path: str | Path) -> Path:
        """The LV time-activity curve (net counts per frame) with ED and ES marked; sets ``curve_png``."""
        r = self.results_data()
        curve_figure(np.arange(r.n_frames), {"LV net counts": self.curve}, path, xlabel="frame (time slot)",
                     ylabel="net LV counts", title=f"{Path(r.file).name}: LV time-activity curve",
                     marks=[(r.ed_frame, "ED"), (r.es_frame, "ES")])
        r.curve_png = str(path)
        return Path(path)
