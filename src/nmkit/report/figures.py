"""Figures as PNG, written atomically; every axis names its unit."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nmkit.atomic import atomic_path  # noqa: E402


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def roc_figure(curves: Sequence[tuple[str, np.ndarray, np.ndarray, float]], path: str | Path,
               points: Sequence[tuple[str, float, float]] = (), title: str = "ROC") -> Path:
    """ROC curves [(label, fpr, tpr, auc)] plus operating points [(label, fpr, tpr)], e.g. human readers."""
    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    for label, fpr, tpr, area in curves:
        ax.plot(fpr, tpr, lw=1.8, label=f"{label} (AUC {area:.3f})")
    for label, fpr, tpr in points:
        ax.plot([fpr], [tpr], "o", ms=6, label=label)
    ax.plot([0, 1], [0, 1], ls=":", c="grey", lw=1)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="1 - specificity (false-positive rate)",
           ylabel="sensitivity (true-positive rate)", title=title)
    ax.legend(loc="lower right", fontsize=7)
    return _save(fig, path)


def overlay_figure(image: np.ndarray, overlay: np.ndarray | None, path: str | Path, title: str,
                   image_label: str = "counts", overlay_label: str = "", marks: Sequence[tuple[float, float, str]] = (),
                   overlay_threshold: float | None = None) -> Path:
    """An image in grey with a coloured map over it (shown where it exceeds ``overlay_threshold``)."""
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    shown = ax.imshow(image, cmap="gray", interpolation="nearest")
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label=image_label)
    if overlay is not None:
        layer = np.ma.masked_less(overlay, overlay_threshold) if overlay_threshold is not None else overlay
        heat = ax.imshow(layer, cmap="inferno", alpha=0.55, interpolation="bilinear",
                         extent=(-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5))
        fig.colorbar(heat, ax=ax, fraction=0.046, pad=0.10, label=overlay_label)
    for row, col, text in marks:
        ax.plot([col], [row], marker="+", ms=14, mew=2, c="cyan")
        ax.annotate(text, (col, row), xytext=(6, -6), textcoords="offset points", color="cyan", fontsize=8)
    ax.set(title=title, xlabel="column (pixels)", ylabel="row (pixels)")
    return _save(fig, path)


def bar_figure(labels: Sequence[str], series: dict[str, Sequence[float]], path: str | Path, xlabel: str,
               ylabel: str, title: str) -> Path:
    """Grouped bars, one group per label, one bar per series."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    x = np.arange(len(labels))
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=name)
    ax.set_xticks(x, labels)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    return _save(fig, path)
