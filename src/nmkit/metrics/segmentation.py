"""Per-image segmentation metrics: binary Dice, IoU and pixel accuracy, multi-class mean IoU, and mean +/- SD.

Binary metrics are plain NumPy: torchmetrics' segmentation functions give NaN or drop the image when both masks
are empty, and here that case is a perfect 1.0 (nothing to find, nothing found). Mean IoU uses torchmetrics.
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics.functional.segmentation import mean_iou as _tm_mean_iou


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _binary(pred, target) -> tuple[np.ndarray, np.ndarray]:
    """Both masks as bool (N, H*W); ValueError unless they are 0/1 arrays of the same (N, H, W) or (H, W) shape."""
    p, t = _numpy(pred), _numpy(target)
    if p.shape != t.shape or p.ndim not in (2, 3):
        raise ValueError(f"pred and target must both be (H, W) or (N, H, W), got {p.shape} and {t.shape}")
    for name, a in (("pred", p), ("target", t)):
        if a.dtype != bool and not np.isin(a, (0, 1)).all():
            raise ValueError(f"{name} must be a binary mask (bool or 0/1 values)")
    n = 1 if p.ndim == 2 else p.shape[0]
    return p.astype(bool).reshape(n, -1), t.astype(bool).reshape(n, -1)


def dice(pred, target) -> np.ndarray:
    """Dice 2|P and T| / (|P| + |T|) per image, shape (N,); 1.0 when both masks are empty."""
    p, t = _binary(pred, target)
    overlap, total = (p & t).sum(1), p.sum(1) + t.sum(1)
    return np.where(total > 0, 2 * overlap / np.maximum(total, 1), 1.0)


def iou(pred, target) -> np.ndarray:
    """Intersection over union |P and T| / |P or T| per image, shape (N,); 1.0 when both masks are empty."""
    p, t = _binary(pred, target)
    overlap, union = (p & t).sum(1), (p | t).sum(1)
    return np.where(union > 0, overlap / np.maximum(union, 1), 1.0)


def pixel_accuracy(pred, target) -> np.ndarray:
    """Fraction of pixels where the masks agree, per image, shape (N,)."""
    p, t = _binary(pred, target)
    return (p == t).mean(1)


def mean_iou(pred_labels, target_labels, num_classes: int) -> np.ndarray:
    """Per-image mean IoU over the classes 0..num_classes-1 (background included) present in either map.

    Label maps are integer (N, H, W) or (H, W) arrays; torchmetrics leaves out classes absent from both."""
    p, t = torch.as_tensor(_numpy(pred_labels)).long(), torch.as_tensor(_numpy(target_labels)).long()
    if p.shape != t.shape or p.ndim not in (2, 3):
        raise ValueError(f"label maps must both be (H, W) or (N, H, W), got {tuple(p.shape)} and {tuple(t.shape)}")
    if min(p.min(), t.min()) < 0 or max(p.max(), t.max()) >= num_classes:
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    if p.ndim == 2:
        p, t = p[None], t[None]
    return _tm_mean_iou(p, t, num_classes=num_classes, input_format="index").double().numpy()


def summary(values) -> dict[str, float]:
    """{"mean", "sd"} of per-image values; sd is the sample SD (ddof=1), 0.0 for a single value."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if not v.size:
        raise ValueError("summary needs at least one value")
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0}
