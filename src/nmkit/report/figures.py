"""Figures as PNG, written atomically; every axis names its unit."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from nmkit.atomic import atomic_path  # noqa: E402
from nmkit.metrics.agreement import bland_altman  # noqa: E402


def save_figure(fig, path: str | Path) -> Path:
    """Write a matplotlib figure as PNG atomically, without a timestamp (same figure, same bytes); close it."""
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
    return save_figure(fig, path)


def overlay_figure(image: np.ndarray, overlay: np.ndarray | None, path: str | Path, title: str,
                   image_label: str = "counts", overlay_label: str = "", marks: Sequence[tuple[float, float, str]] = (),
                   overlay_threshold: float | None = None, outlines: dict[str, np.ndarray] | None = None,
                   note: str = "") -> Path:
    """An image in grey with a coloured map over it (shown where it is finite and exceeds ``overlay_threshold``),
    named outlines (bool masks of the image's shape) and labelled marks. The image's colour bar stands at the
    right, the map's below, so their labels never meet; ``note`` is written under the title (e.g. why the map
    is empty)."""
    fig, ax = plt.subplots(figsize=(5.8, 5.6))
    shown = ax.imshow(image, cmap="gray", interpolation="nearest")
    fig.colorbar(shown, ax=ax, location="right", fraction=0.046, pad=0.03, label=image_label)
    if overlay is not None:
        layer = np.ma.masked_invalid(overlay)
        if overlay_threshold is not None:
            layer = np.ma.masked_less(layer, overlay_threshold)
        if layer.count():
            heat = ax.imshow(layer, cmap="inferno", alpha=0.6, interpolation="nearest",
                             extent=(-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5))
            fig.colorbar(heat, ax=ax, location="bottom", fraction=0.05, pad=0.12, label=overlay_label)
    named = []
    for i, (name, mask) in enumerate((outlines or {}).items()):
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            ax.contour(mask.astype(np.float32), levels=[0.5], colors=[f"C{i}"], linewidths=1.2)
        named.append(f"{name} {_COLOUR_NAMES[i % len(_COLOUR_NAMES)]}")
    rows, cols = image.shape[:2]
    for k, (row, col, text) in enumerate(marks):
        ax.plot([col], [row], marker="+", ms=14, mew=2, c="cyan")
        right, low = col > 0.6 * cols, row > 0.7 * rows  # label toward the image's inside, never off its edge
        ax.annotate(text, (col, row), xytext=(-8 if right else 8, (8 + 10 * k) if low else (-8 - 10 * k)),
                    textcoords="offset points", color="cyan", fontsize=8, ha="right" if right else "left",
                    va="bottom" if low else "top",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "black", "alpha": 0.5, "lw": 0})
    xlabel = "column (pixels)" + (f"; outlines: {', '.join(named)}" if named else "")
    ax.set(xlabel=xlabel, ylabel="row (pixels)")
    ax.set_title(textwrap.fill(title, 64) + (f"\n{textwrap.fill(note, 64)}" if note else ""), fontsize=9)
    return save_figure(fig, path)


_COLOUR_NAMES = ("blue", "orange", "green", "red", "purple")  # matplotlib's C0-C4


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
    return save_figure(fig, path)


def bland_altman_figure(method: Sequence[float], reference: Sequence[float], path: str | Path, unit: str = "%",
                        title: str = "Bland-Altman", method_label: str = "model",
                        reference_label: str = "reference") -> Path:
    """Difference (method - reference) against the pair's mean, with the bias and the 95 % limits of agreement."""
    ba = bland_altman(method, reference)
    method, reference = np.asarray(method, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    ax.scatter((method + reference) / 2, method - reference, s=18, alpha=0.75)
    for value, text, style in ((ba.loa_high, "+1.96 SD", "--"), (ba.bias, "bias", "-"),
                               (ba.loa_low, "-1.96 SD", "--")):
        ax.axhline(value, ls=style, c="grey" if style == "--" else "black", lw=1)
        ax.annotate(f"{text} {value:+.2f} {unit}", (1, value), xycoords=("axes fraction", "data"), xytext=(-4, 3),
                    textcoords="offset points", ha="right", fontsize=8)
    ax.set(title=f"{title} (n = {ba.n})", xlabel=f"mean of {method_label} and {reference_label} ({unit})",
           ylabel=f"{method_label} - {reference_label} ({unit})")
    return save_figure(fig, path)


def curve_figure(x: Sequence[float], series: dict[str, Sequence[float]], path: str | Path, xlabel: str, ylabel: str,
                 title: str, marks: Sequence[tuple[float, str]] = ()) -> Path:
    """Curves sharing one x axis (e.g. a time-activity curve), with labelled vertical marks (e.g. ED, ES)."""
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    for name, values in series.items():
        ax.plot(x, values, marker="o", ms=3, lw=1.5, label=name)
    for position, text in marks:
        ax.axvline(position, ls=":", c="grey", lw=1)
        ax.annotate(text, (position, 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
                    textcoords="offset points", fontsize=8)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def contour_figure(image: np.ndarray, masks: dict[str, np.ndarray], path: str | Path, title: str,
                   image_label: str = "counts") -> Path:
    """An image in grey with each mask's outline in its own colour, named in the legend."""
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    shown = ax.imshow(image, cmap="gray", interpolation="nearest")
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label=image_label)
    handles = []
    for i, (name, mask) in enumerate(masks.items()):
        mask = np.asarray(mask, dtype=bool)
        if mask.any():  # an empty mask has no outline; it stays in the legend
            ax.contour(mask.astype(np.float32), levels=[0.5], colors=[f"C{i}"], linewidths=1.5)
        handles.append(Line2D([], [], color=f"C{i}", lw=1.5, label=name))
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=8)
    ax.set(xlabel="column (pixels)", ylabel="row (pixels)")
    ax.set_title(textwrap.fill(title, 56), fontsize=9)  # a long title would run over the colour bar
    return save_figure(fig, path)


def image_row_figure(images: dict[str, np.ndarray], path: str | Path, title: str, image_label: str,
                     vmax: float | None = None, cmap: str = "gray_r") -> Path:
    """2-D images side by side on one shared scale (0 to ``vmax``, default the last image's 99.5th percentile)."""
    panels = list(images.items())
    vmax = vmax or float(np.percentile(panels[-1][1], 99.5)) or 1.0
    fig, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels) + 0.4, 3.4))
    axes = np.atleast_1d(axes)
    for ax, (name, image) in zip(axes, panels):
        shown = ax.imshow(image, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
        ax.set(title=name, xticks=[], yticks=[])
    fig.colorbar(shown, ax=list(axes), fraction=0.03, pad=0.02, label=image_label)
    fig.suptitle(title)
    return save_figure(fig, path)


def reliability_figure(diagrams: dict[str, Sequence[dict[str, float]]], path: str | Path, title: str) -> Path:
    """Reliability diagrams: accuracy against mean confidence per bin (from
    :func:`nmkit.metrics.calibration.reliability_bins`), marker area by bin size, beside the diagonal."""
    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    ax.plot([0, 1], [0, 1], ls=":", c="grey", lw=1, label="perfect calibration")
    for i, (name, bins) in enumerate(diagrams.items()):
        confidence = [b["confidence"] for b in bins]
        accuracy = [b["accuracy"] for b in bins]
        total = max(sum(b["n"] for b in bins), 1)
        ax.plot(confidence, accuracy, c=f"C{i}", lw=1.2, label=name)
        ax.scatter(confidence, accuracy, s=[8 + 400 * b["n"] / total for b in bins], c=f"C{i}", alpha=0.6)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="confidence (top-class probability)", ylabel="accuracy")
    ax.set_title(textwrap.fill(title, 56), fontsize=9)
    ax.legend(loc="upper left", fontsize=7)
    return save_figure(fig, path)
