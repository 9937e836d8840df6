"""QC classifiers: the study's ResNet18 and a compact CPU model; both take raw flood counts of any size."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nmkit.models import register_model
from nmkit.models.resnet import resnet_classifier


class FloodNormalise(nn.Module):
    """Flood counts -> noise z-scores about the field mean, (x - mean) / sigma; 0 outside the field.

    The field of view is where the 3x3 local mean exceeds half the image's non-zero mean (circular,
    octagonal and rectangular detectors alike), less a rim of ``edge`` pixels where partial coverage
    makes counts fall off, as NEMA's edge rule does. Sigma is measured from neighbouring-pixel
    differences inside the field: for true counts it equals sqrt(mean) (Poisson), and it stays right
    for cameras that store scaled counts, so the network sees the same statistics at any count level.
    """

    def __init__(self, edge: int = 3):
        super().__init__()
        self.edge = edge

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        nonzero_mean = x.sum((2, 3), keepdim=True) / (x > 0).sum((2, 3), keepdim=True).clamp(min=1)
        local = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        fov = (local > 0.5 * nonzero_mean).float()
        if self.edge > 0:
            # Beyond the image counts as outside the field, so a field that reaches the border loses its rim too.
            outside = F.pad(1 - fov, (self.edge,) * 4, value=1.0)
            fov = 1 - F.max_pool2d(outside, 2 * self.edge + 1, stride=1)
        mean = (x * fov).sum((2, 3), keepdim=True) / fov.sum((2, 3), keepdim=True).clamp(min=1)
        pairs_x = fov[..., :, 1:] * fov[..., :, :-1]
        pairs_y = fov[..., 1:, :] * fov[..., :-1, :]
        squared = ((x[..., :, 1:] - x[..., :, :-1]) ** 2 * pairs_x).sum((2, 3), keepdim=True) + \
            ((x[..., 1:, :] - x[..., :-1, :]) ** 2 * pairs_y).sum((2, 3), keepdim=True)
        n_pairs = pairs_x.sum((2, 3), keepdim=True) + pairs_y.sum((2, 3), keepdim=True)
        sigma = (squared / (2 * n_pairs.clamp(min=1))).clamp(min=1e-6).sqrt()
        return (x - mean) / sigma * fov


class FloodResNet(nn.Module):
    """The study's classifier: torchvision ResNet18 (weights None), 1 channel, 2 classes."""

    def __init__(self, depth: int = 18, num_classes: int = 2):
        super().__init__()
        self.normalise = FloodNormalise()
        self.backbone = resnet_classifier(depth, in_chans=1, num_classes=num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.normalise(x))


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )


class CompactFloodNet(nn.Module):
    """A small scanning detector: multi-scale conv stages, each read out by global max and mean pooling.

    A local defect of any diameter lights up the stage whose receptive field matches it; global max
    pooling scans every position, as a matched-filter observer does. ``stem_pool`` sums k x k pixels
    first (z-scores stay unit-variance), trading the smallest defects for speed.
    """

    def __init__(self, num_classes: int = 2, width: int = 16, stages: int = 4, stem_pool: int = 2):
        super().__init__()
        self.normalise = FloodNormalise()
        self.stem_pool = stem_pool
        chans = [width * min(i + 1, 4) for i in range(stages)]
        self.stages = nn.ModuleList(_conv_block(c_in, c_out) for c_in, c_out in zip([1, *chans[:-1]], chans))
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(2 * sum(chans), num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.normalise(x)
        if self.stem_pool > 1:
            z = F.avg_pool2d(z, self.stem_pool, ceil_mode=True) * self.stem_pool
        pooled = []
        for i, stage in enumerate(self.stages):
            if i > 0:
                z = F.avg_pool2d(z, 2, ceil_mode=True)
            z = stage(z)
            pooled += [z.amax(dim=(2, 3)), z.mean(dim=(2, 3))]
        return self.head(torch.cat(pooled, dim=1))


@register_model("qc-resnet18")
def qc_resnet18(num_classes: int = 2) -> nn.Module:
    """The study's model: ResNet18, 1-channel flood counts in, normal / cold region out."""
    return FloodResNet(18, num_classes)


@register_model("qc-compact")
def qc_compact(num_classes: int = 2, width: int = 16, stages: int = 4, stem_pool: int = 2) -> nn.Module:
    """A CPU-sized flood classifier (~0.1 M parameters) of nmkit's design."""
    return CompactFloodNet(num_classes, width, stages, stem_pool)
