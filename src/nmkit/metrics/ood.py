"""Is an input like the model's training data? A feature-space Mahalanobis score (Lee et al., NeurIPS 2018).

The model's deepest feature map (its smallest spatial size, last such layer: a classifier's final features, a
UNet's bottleneck) is averaged over space; a Gaussian (mean and a Ledoit-Wolf shrunk covariance) is fitted to
these features on training inputs, and an input whose Mahalanobis distance exceeds the ``percentile``-th
percentile of the distances of held-out inputs drawn like the training data (its validation split; else of the
training inputs themselves) is out of distribution. The fit is stored next to the shipped bundle
(``<bundle>.ood.pt``) with a hash of the weights it was fitted for, so a retrained model never uses stale
statistics.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nmkit.atomic import atomic_path

DEFAULT_PERCENTILE = 99.0


def weights_hash(model: nn.Module) -> str:
    """SHA-256 of the model's state dict (names, shapes and values): which weights a fit belongs to."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def ledoit_wolf(centred: np.ndarray) -> np.ndarray:
    """The Ledoit-Wolf shrunk covariance (J Multivar Anal 2004) of centred rows (N, C): the sample covariance
    pulled toward a scaled identity by the amount that minimises the expected squared error."""
    n, p = centred.shape
    sample = centred.T @ centred / n
    mu = np.trace(sample) / p
    delta = float(((sample - mu * np.eye(p)) ** 2).sum()) / p
    beta = float(((centred**2).sum(axis=1) ** 2).sum() - n * (sample**2).sum()) / (n * n * p)
    shrink = 0.0 if delta == 0 else min(beta, delta) / delta
    return shrink * mu * np.eye(p) + (1 - shrink) * sample


def deepest_layer(model: nn.Module, run: Callable[[], Any]) -> str:
    """The name of the leaf module whose 4-D output has the fewest pixels (the last such) when ``run()`` calls
    the model once."""
    seen: list[tuple[int, int, str]] = []
    handles = [module.register_forward_hook(
        lambda m, i, out, name=name: seen.append((-out.shape[-1] * out.shape[-2], len(seen), name))
        if isinstance(out, torch.Tensor) and out.ndim == 4 else None)
        for name, module in model.named_modules() if name and not list(module.children())]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    if not seen:
        raise ValueError("the model has no layer with a 2-D feature map")
    return max(seen)[2]


def pooled_features(model: nn.Module, layer: str, run: Callable[[], Any]) -> np.ndarray:
    """(N, C): the ``layer`` output of every forward pass ``run()`` makes, averaged over space."""
    out: list[torch.Tensor] = []
    module = dict(model.named_modules())[layer]
    handle = module.register_forward_hook(lambda m, i, o: out.append(o.detach().float().mean(dim=(-2, -1)).cpu()))
    try:
        with torch.no_grad():
            run()
    finally:
        handle.remove()
    return torch.cat(out).double().numpy()


@dataclass
class FeatureGaussian:
    """A Gaussian over pooled features and the distance above which an input is out of distribution."""

    layer: str
    mean: np.ndarray
    precision: np.ndarray
    threshold: float
    percentile: float
    weights: str  # weights_hash of the model it was fitted for
    fitted_on: str = ""

    @classmethod
    def fit(cls, per_input: list[np.ndarray], layer: str, weights: str, percentile: float = DEFAULT_PERCENTILE,
            fitted_on: str = "", held_out: list[np.ndarray] | None = None) -> FeatureGaussian:
        """Fit on the features of each training input (a list of (passes, C) arrays: a study's frames, a scan's
        knees); the threshold is the ``percentile`` of each input's score (its largest distance) over the
        ``held_out`` inputs when given (inputs the Gaussian did not see score higher: a fit on few inputs with
        many features would otherwise flag most new ones), else over the training inputs."""
        rows = np.concatenate(per_input)
        mean = rows.mean(axis=0)
        precision = np.linalg.pinv(ledoit_wolf(rows - mean), hermitian=True)
        gaussian = cls(layer, mean, precision, 0.0, float(percentile), weights, fitted_on)
        gaussian.threshold = float(np.percentile(gaussian.scores(held_out or per_input), percentile))
        return gaussian

    def scores(self, per_input: list[np.ndarray]) -> np.ndarray:
        """Each input's score: the largest distance over its passes."""
        return np.array([self.distance(f).max() for f in per_input])

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row of ``features`` (N, C) from the training mean."""
        centred = np.atleast_2d(features) - self.mean
        return np.sqrt(np.maximum(np.einsum("nc,cd,nd->n", centred, self.precision, centred), 0.0))

    def save(self, path: str | Path) -> Path:
        blob = {"layer": self.layer, "mean": torch.from_numpy(self.mean), "precision": torch.from_numpy(self.precision),
                "threshold": self.threshold, "percentile": self.percentile, "weights": self.weights,
                "fitted_on": self.fitted_on}
        buffer = io.BytesIO()  # saved through memory: a file name would enter the archive, so same fit, same bytes
        torch.save(blob, buffer)
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(buffer.getvalue())
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> FeatureGaussian:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        return cls(blob["layer"], blob["mean"].numpy(), blob["precision"].numpy(), float(blob["threshold"]),
                   float(blob["percentile"]), blob["weights"], blob.get("fitted_on", ""))


def ood_path(bundle: str | Path) -> Path:
    """Where the OOD fit of a bundle lives: ``<bundle stem>.ood.pt`` beside it."""
    bundle = Path(bundle)
    return bundle.with_name(bundle.stem + ".ood.pt")


def load_fit(model: nn.Module, info: dict[str, Any]) -> FeatureGaussian | None:
    """The OOD fit beside the bundle ``info["model_path"]`` when there is one for these very weights."""
    path = info.get("model_path")
    if not path or not ood_path(path).is_file():
        return None
    fit = FeatureGaussian.load(ood_path(path))
    return fit if fit.weights == weights_hash(model) else None


@dataclass
class DomainCheck:
    """Collects the reasons a prediction may be outside what the model was made for."""

    notes: list[str]
    ood_distance: float | None = None
    ood_threshold: float | None = None

    @property
    def in_domain(self) -> bool:
        return not self.notes

    def require(self, ok: bool, note: str) -> None:
        if not ok:
            self.notes.append(note)

    def join(self, later: DomainCheck) -> None:
        """Add the notes of a later model's check (e.g. the classifier fed by a segmenter); its feature distance,
        where it has one, becomes the one reported."""
        self.notes += later.notes
        if later.ood_distance is not None:
            self.ood_distance, self.ood_threshold = later.ood_distance, later.ood_threshold

    def as_dict(self) -> dict[str, Any]:
        return {"in_domain": self.in_domain, "domain_notes": list(self.notes),
                "ood_distance": None if self.ood_distance is None else round(self.ood_distance, 3),
                "ood_threshold": None if self.ood_threshold is None else round(self.ood_threshold, 3)}


def domain_check(model: nn.Module, info: dict[str, Any], run: Callable[[], Any]) -> tuple[DomainCheck, Any]:
    """(check, what ``run()`` returned): ``run`` feeds the input to the model once; where the bundle has an OOD
    fit for these weights, the check holds the feature-space distance (the largest over the passes ``run``
    makes) and a note when it exceeds the fit's threshold."""
    check = DomainCheck([])
    fit = load_fit(model, info)
    if fit is None:
        return check, run()
    returned: list[Any] = []
    features = pooled_features(model, fit.layer, lambda: returned.append(run()))
    distance = float(fit.distance(features).max())
    check.ood_distance, check.ood_threshold = distance, fit.threshold
    check.require(distance <= fit.threshold,
                  f"unlike the training data: feature distance {distance:.1f} above {fit.threshold:.1f}, the "
                  f"{fit.percentile:g}th percentile of inputs like it")
    return check, returned[0]
