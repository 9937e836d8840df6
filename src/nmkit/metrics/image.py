"""Image-similarity metrics: PSNR (whole image or inside a mask), SSIM, NRMSE and FID with a chosen extractor.

Arrays are compared voxel by voxel; ``data_range`` is stated by the caller (PSNR and SSIM depend on it).
FID uses torchmetrics with either torchvision's Inception-v3 loaded from a local weights file (2048
features, the usual FID when those are the standard weights) or, offline by default, a fixed seeded
random-init convolutional network (128 features): comparable between runs of nmkit, not with published
FID values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from skimage.metrics import structural_similarity
from torch import nn

from nmkit.errors import InputError

RANDOM_EXTRACTOR_NAME = "random-conv-128 (seed 0, offline; nmkit-only scale)"


def _pair(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, target = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ValueError(f"shapes differ: {pred.shape} vs {target.shape}")
    return pred, target


def mse(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean squared error, over ``mask`` when given."""
    pred, target = _pair(pred, target)
    diff = (pred - target) ** 2
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            raise ValueError("the mask is empty")
        diff = diff[mask]
    return float(diff.mean())


def psnr(pred: np.ndarray, target: np.ndarray, data_range: float, mask: np.ndarray | None = None) -> float:
    """10 log10(data_range^2 / MSE) in dB, over ``mask`` when given; inf for identical images."""
    if data_range <= 0:
        raise ValueError(f"data_range must be > 0, not {data_range}")
    error = mse(pred, target, mask)
    return float("inf") if error == 0 else float(10 * np.log10(data_range**2 / error))


def nrmse(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Root of the summed squared error over the target's root sum of squares (skimage's 'euclidean')."""
    pred, target = _pair(pred, target)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        pred, target = pred[mask], target[mask]
    norm = float(np.sqrt(np.sum(target**2)))
    if norm == 0:
        raise ValueError("the target is all zero")
    return float(np.sqrt(np.sum((pred - target) ** 2)) / norm)


def ssim(pred: np.ndarray, target: np.ndarray, data_range: float) -> float:
    """Mean SSIM (7 x 7 window, Wang 2004 constants) over the 2-D images of a (N, H, W) or (H, W) array."""
    pred, target = _pair(pred, target)
    if pred.ndim == 2:
        pred, target = pred[None], target[None]
    return float(np.mean([structural_similarity(p, t, data_range=data_range) for p, t in zip(pred, target)]))


class RandomConvFeatures(nn.Module):
    """A fixed random-init conv net (seed 0): 3 x (conv 3x3 stride 2 + ReLU) and global average -> 128 features."""

    num_features = 128

    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        widths = (3, 32, 64, 128)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            conv = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * (2.0 / (9 * c_in)) ** 0.5)
                conv.bias.zero_()
            layers += [conv, nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float())


class InceptionFeatures(nn.Module):
    """torchvision Inception-v3 pool features (2048) of images in [0, 1], resized to 299 and ImageNet-normalised."""

    num_features = 2048

    def __init__(self, weights: str | Path):
        super().__init__()
        import torchvision

        weights = Path(weights)
        if not weights.is_file():
            raise InputError(weights, "FID weights file not found")
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001
            raise InputError(weights, f"cannot be read as a PyTorch state dict ({type(err).__name__})") from err
        net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
        try:
            net.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError) as err:
            raise InputError(weights, "is not a torchvision Inception-v3 state dict") from err
        net.fc = nn.Identity()
        net.aux_logits, net.AuxLogits = False, None
        self.net = net.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x.float(), size=(299, 299), mode="bilinear", align_corners=False)
        return self.net((x - self.mean) / self.std)


def fid_extractor(weights: str | Path | None = None) -> tuple[nn.Module, str]:
    """(feature extractor, its name for reports): Inception-v3 from a local file, else :class:`RandomConvFeatures`."""
    if weights is None:
        return RandomConvFeatures(), RANDOM_EXTRACTOR_NAME
    return InceptionFeatures(weights), f"torchvision inception_v3 pool3 (2048), weights {Path(weights).name}"


def fid(real: np.ndarray, fake: np.ndarray, extractor: nn.Module, batch_size: int = 64) -> float:
    """Frechet distance between the features of two sets of (N, H, W) images scaled to [0, 1] (grey -> RGB)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    if len(real) < 2 or len(fake) < 2:
        raise ValueError("FID needs at least 2 images in each set")
    metric = FrechetInceptionDistance(feature=extractor, normalize=True, reset_real_features=True)
    for images, is_real in ((real, True), (fake, False)):
        for start in range(0, len(images), batch_size):
            batch = torch.as_tensor(np.asarray(images[start:start + batch_size], dtype=np.float32))
            metric.update(batch[:, None].expand(-1, 3, -1, -1).clamp(0, 1), real=is_real)
    return float(metric.compute())
