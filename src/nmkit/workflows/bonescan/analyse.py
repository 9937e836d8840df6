"""`KneeDJD`: find both knees on a whole-body bone scan and grade each for DJD (pylinac-style)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle
from torch import nn

from nmkit.models import as_model, load_model, shipped_model
from nmkit.phantoms.bone import GRADE_NAMES
from nmkit.report.figures import save_figure
from nmkit.workflows.bonescan.data import WholeBodyScan, knee_inputs, load_scan
from nmkit.workflows.bonescan.knees import CROP, Knee, find_knees

DEFAULT_MODEL = "bonescan-default.pt"


def default_model_path() -> Path:
    """Where the small phantom-trained model shipped inside the package lives (see its MODEL_CARD.md)."""
    return shipped_model("nmkit.workflows.bonescan", DEFAULT_MODEL)


def load_bonescan_model(path: str | Path | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """A bonescan model bundle from ``path``, or the shipped default model; InputError when neither exists."""
    return load_model(path, default_model_path(), "bonescan", "nmkit train configs/bonescan-fast.yaml")


@torch.no_grad()
def grade_probabilities(model: nn.Module, inputs: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Softmax probabilities (K, 5) of the grades for knee inputs (K, 1, 128, 128)."""
    model.eval()
    out = [model(torch.from_numpy(inputs[i:i + batch_size])).softmax(dim=1).double().numpy()
           for i in range(0, len(inputs), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, len(GRADE_NAMES)))


def knee_overlay_figure(view: np.ndarray, knees: Sequence[Knee], labels: Sequence[str], path: str | Path,
                        title: str) -> Path:
    """The anterior view with each knee's 128 x 128 crop outlined and labelled."""
    fig, ax = plt.subplots(figsize=(3.4, 9.0))
    shown = ax.imshow(view, cmap="gray_r", vmax=float(np.percentile(view, 99.7)) or None, interpolation="nearest",
                      aspect="equal")
    fig.colorbar(shown, ax=ax, fraction=0.08, pad=0.04, label="counts")
    for knee, label in zip(knees, labels):
        ax.add_patch(Rectangle((knee.col - CROP / 2, knee.row - CROP / 2), CROP, CROP, fill=False, ec="tab:red", lw=1.2))
        ax.plot([knee.col], [knee.row], marker="+", ms=10, mew=1.5, c="tab:red")
        ax.annotate(label, (knee.col, knee.row - CROP / 2), xytext=(0, 3), textcoords="offset points", ha="center",
                    va="bottom", color="tab:red", fontsize=7)
    ax.set(title=title, xlabel="column (pixels)", ylabel="row (pixels)")
    ax.title.set_fontsize(8)
    return save_figure(fig, path)


@dataclass
class KneeDJDResult:
    """Everything `nmkit bonescan predict` reports for one scan; ``as_dict()`` has the stable JSON keys."""

    file: str
    knees: list[dict[str, Any]]
    model: str
    overlay_png: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        return d


class KneeDJD:
    """Grade both knees of one scan: ``KneeDJD(path).analyze()``, then ``results()``, ``results_data()``,
    ``plot_analyzed_image(path)``.

    ``source`` is a study .mat file, a whole-body DICOM (anterior view first), two files (anterior,
    posterior) or a loaded :class:`WholeBodyScan`. Knees are found with ``method`` ("anatomy" or "plan").
    """

    def __init__(self, source: str | Path | Sequence[str | Path] | WholeBodyScan | np.ndarray, method: str = "anatomy"):
        if isinstance(source, np.ndarray):  # (H, W) anterior, or (2, H, W) anterior and posterior counts
            views = np.asarray(source, dtype=np.float32).reshape(-1, *np.shape(source)[-2:])
            source = WholeBodyScan(views[0], views[1] if len(views) > 1 else None, Path("array"))
        self.scan = source if isinstance(source, WholeBodyScan) else load_scan(source)
        self.method = method
        self.knees = find_knees(self.scan.anterior, method, self.scan.path)
        self._result: KneeDJDResult | None = None

    def analyze(self, model: Any = None, info: dict[str, Any] | None = None) -> KneeDJD:
        """Grade each knee with ``model``: a bundle path, a shipped model's name, a loaded (network, info) pair, a
        network, or None (the shipped model)."""
        model, info = as_model(model, info, load_bonescan_model)
        probabilities = grade_probabilities(model, knee_inputs(self.scan.anterior, self.knees))
        knees = []
        for knee, p in zip(self.knees, probabilities):
            grade = int(np.argmax(p))
            knees.append(knee.as_dict() | {"grade": grade, "grade_name": GRADE_NAMES[grade],
                                           "probabilities": [round(float(v), 4) for v in p]})
        self._result = KneeDJDResult(file=str(self.scan.path), knees=knees,
                                     model=str(info.get("model_id", info.get("model_name", "given model"))))
        return self

    def _require(self) -> KneeDJDResult:
        if self._result is None:
            raise RuntimeError("call analyze() first")
        return self._result

    def results_data(self) -> KneeDJDResult:
        """The results as a dataclass (``.as_dict()`` for JSON)."""
        return self._require()

    def results(self) -> str:
        """A short human-readable summary."""
        r = self._require()
        lines = [f"{r.file}:"]
        for k in r.knees:
            lines.append(f"  {k['side']:>5} knee at row {k['row']}, col {k['col']}: grade {k['grade']} "
                         f"({k['grade_name']}, p={max(k['probabilities']):.2f})")
        if r.overlay_png:
            lines.append(f"  overlay: {r.overlay_png}")
        return "\n".join(lines)

    def plot_analyzed_image(self, path: str | Path) -> Path:
        """The anterior view with both knee crops and their grades; also sets ``overlay_png``."""
        r = self._require()
        labels = [f"{k['side']}: {k['grade_name']}" for k in r.knees]
        knee_overlay_figure(self.scan.anterior, self.knees, labels, path, f"{Path(r.file).name}: knee DJD grades")
        r.overlay_png = str(path)
        return Path(path)
