"""Calibrated rds classifiers: several trained bundles joined into one averaged ensemble, its temperature fitted on
the validation split (temperature scaling: the one parameter that minimises the validation negative
log-likelihood), and a decision threshold chosen there too (Youden's J: the largest sensitivity + specificity,
which does not move with the share of positives, as a test set may hold another share than the validation set).
The joined bundle records both, and `nmkit rds evaluate` uses its threshold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from torch import nn
from torchmetrics.functional.classification import binary_calibration_error

from nmkit.models import load_bundle, save_bundle

ECE_BINS = 15


@torch.no_grad()
def logits_of(model: nn.Module, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """Logits (N, 2) of a classifier for images (N, S, S) in 0..1."""
    model.eval()
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))[:, None]
    return torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)]).numpy()


def probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """P(class 1) from logits (N, 2) divided by ``temperature``."""
    return torch.from_numpy(np.asarray(logits, dtype=np.float64) / temperature).softmax(1)[:, 1].numpy()


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature (0.05-20) that minimises the negative log-likelihood of ``labels`` under ``logits``."""
    z, y = torch.from_numpy(np.asarray(logits, dtype=np.float64)), torch.from_numpy(np.asarray(labels)).long()

    def nll(log_t: float) -> float:
        return float(torch.nn.functional.cross_entropy(z / np.exp(log_t), y))

    return float(np.exp(minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded").x))


def youden_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold (call ``score >= threshold`` positive) with the largest sensitivity + specificity; the midpoint
    between neighbouring scores, so it does not sit on a validation image."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels).astype(bool)
    cuts = np.unique(scores)
    sens = np.array([(scores[labels] >= c).mean() for c in cuts])
    spec = np.array([(scores[~labels] < c).mean() for c in cuts])
    best = int(np.argmax(sens + spec))
    return float((cuts[best] + cuts[best - 1]) / 2) if best > 0 else float(cuts[0])


def expected_calibration_error(scores: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE of P(positive) (``bins`` equal-width bins, L1), as torchmetrics computes it."""
    return float(binary_calibration_error(torch.as_tensor(np.asarray(scores), dtype=torch.float32),
                                          torch.as_tensor(np.asarray(labels)).long(), n_bins=bins))


def ensemble(bundles: list[Path], val_images: np.ndarray, val_labels: np.ndarray, out: Path,
             info: dict[str, Any] | None = None) -> tuple[Path, dict[str, Any]]:
    """Join classifier ``bundles`` into one ``rds-ensemble`` bundle at ``out``: averaged logits, temperature and
    Youden threshold fitted on the validation images; the calibration (and ECE before and after) goes into the
    bundle's info, with ``info`` (default: the first member's)."""
    loaded = [load_bundle(path) for path in bundles]
    members = [{"name": b_info["model_name"], **_kwargs(path)} for path, (_, b_info) in zip(bundles, loaded)]
    from nmkit.workflows.rds.models import CalibratedEnsemble

    joined = CalibratedEnsemble([model for model, _ in loaded])
    raw = logits_of(joined, val_images)
    temperature = fit_temperature(raw, val_labels)
    scores = probabilities(raw, temperature)
    calibration = {"temperature": temperature, "threshold": youden_threshold(scores, val_labels),
                   "fitted_on": "val", "members": len(bundles),
                   "val_ece_before": expected_calibration_error(probabilities(raw), val_labels),
                   "val_ece_after": expected_calibration_error(scores, val_labels)}
    record = dict(info if info is not None else loaded[0][1])
    record.pop("model_path", None)
    record.pop("model_name", None)
    record["calibration"] = calibration
    joined.temperature = temperature
    save_bundle(out, "rds-ensemble", {"members": members, "temperature": temperature}, joined, record)
    return out, calibration


def _kwargs(path: Path) -> dict[str, Any]:
    blob = torch.load(path, map_location="cpu", weights_only=True)
    return dict(blob["model_kwargs"])
