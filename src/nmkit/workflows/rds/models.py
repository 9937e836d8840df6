"""RDS models: the study's U-Net with an EfficientNet-B5 encoder and EfficientNet-B0/B3/B5 classifiers, plus CPU-sized
versions. Every model takes grey radiographs (N, 1, H, W) in 0..1 (dense = white) at any size and works at its
own ``work_size``; segmenters return lung logits (N, 2, H, W) at the input size, classifiers RDS logits (N, 2).
All start from random weights; pretrained ones come only from a local file (``init_weights`` in a config).
"""

from __future__ import annotations

import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from nmkit.models import create_model, register_model

GREY_MEAN, GREY_STD = 0.5, 0.25


def _resize(x: torch.Tensor, size: int | None) -> torch.Tensor:
    if not size or tuple(x.shape[-2:]) == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


class GreySegmenter(nn.Module):
    """Standardise grey values, resample to ``work_size``, segment, and return logits at the input size."""

    def __init__(self, net: nn.Module, work_size: int | None = None):
        super().__init__()
        self.net, self.work_size = net, work_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        out = self.net(_resize((x.float() - GREY_MEAN) / GREY_STD, self.work_size))
        if out.shape[-2:] != size:
            out = F.interpolate(out, size=size, mode="bilinear", align_corners=False)
        return out


class GreyClassifier(nn.Module):
    """Standardise grey values, resample to ``work_size``, repeat grey to ``channels``, classify."""

    def __init__(self, net: nn.Module, work_size: int | None = None, channels: int = 3):
        super().__init__()
        self.net, self.work_size, self.channels = net, work_size, channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = _resize((x.float() - GREY_MEAN) / GREY_STD, self.work_size)
        return self.net(z.expand(-1, self.channels, -1, -1) if self.channels > 1 else z)


@register_model("rds-unet-effb5")
def rds_unet_effb5(num_classes: int = 2, work_size: int = 512) -> nn.Module:
    """The study's segmenter: smp U-Net, EfficientNet-B5 encoder (random init; ImageNet weights only from a
    local file), one grey channel, run at ``work_size`` pixels."""
    net = smp.Unet(encoder_name="efficientnet-b5", encoder_weights=None, in_channels=1, classes=num_classes)
    return GreySegmenter(net, work_size)


@register_model("rds-unet-small")
def rds_unet_small(num_classes: int = 2, encoder: str = "tu-regnetx_002", depth: int = 4, work_size: int = 128,
                   decoder_width: int = 64) -> nn.Module:
    """A CPU-sized U-Net (RegNetX-200MF encoder, random init) run at ``work_size`` pixels."""
    decoder = tuple(max(decoder_width >> i, 8) for i in range(depth))
    net = smp.Unet(encoder_name=encoder, encoder_weights=None, encoder_depth=depth, decoder_channels=decoder,
                   in_channels=1, classes=num_classes)
    return GreySegmenter(net, work_size)


def _efficientnet(builder, num_classes: int, work_size: int) -> nn.Module:
    return GreyClassifier(builder(weights=None, num_classes=num_classes), work_size, channels=3)


@register_model("rds-effnet-b0")
def rds_effnet_b0(num_classes: int = 2, work_size: int = 512) -> nn.Module:
    """torchvision EfficientNet-B0 (random init), grey repeated to 3 channels, at ``work_size`` (study: 512)."""
    return _efficientnet(torchvision.models.efficientnet_b0, num_classes, work_size)


@register_model("rds-effnet-b3")
def rds_effnet_b3(num_classes: int = 2, work_size: int = 512) -> nn.Module:
    """torchvision EfficientNet-B3 (random init), grey repeated to 3 channels, at ``work_size``."""
    return _efficientnet(torchvision.models.efficientnet_b3, num_classes, work_size)


@register_model("rds-effnet-b5")
def rds_effnet_b5(num_classes: int = 2, work_size: int = 512) -> nn.Module:
    """torchvision EfficientNet-B5 (random init), grey repeated to 3 channels, at ``work_size``."""
    return _efficientnet(torchvision.models.efficientnet_b5, num_classes, work_size)


class SmallRdsNet(nn.Module):
    """A CPU-sized classifier (~0.1 M parameters): strided conv blocks, global mean and max pooling."""

    def __init__(self, num_classes: int = 2, width: int = 16):
        super().__init__()
        chans = (width, 2 * width, 4 * width, 4 * width)

        def block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
                                 nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))

        self.features = nn.Sequential(block(1, chans[0], 2), block(chans[0], chans[1], 2), block(chans[1], chans[1], 1),
                                      block(chans[1], chans[2], 2), block(chans[2], chans[2], 1),
                                      block(chans[2], chans[3], 2))
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(2 * chans[3], num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.features(x)
        return self.head(torch.cat([z.mean(dim=(2, 3)), z.amax(dim=(2, 3))], dim=1))


@register_model("rds-cnn-small")
def rds_cnn_small(num_classes: int = 2, width: int = 16, work_size: int = 128) -> nn.Module:
    """The CPU classifier: :class:`SmallRdsNet` on one grey channel at ``work_size`` pixels."""
    return GreyClassifier(SmallRdsNet(num_classes, width), work_size, channels=1)


class JointRds(nn.Module):
    """The study's joined pipeline: the classifier sees the image times the segmenter's lung probability, so
    both can be fine-tuned together on the RDS label. The image is first resampled to the classifier's work
    size, so a large radiograph is masked as the training images were. Returns RDS logits (N, 2)."""

    def __init__(self, segmenter: nn.Module, classifier: nn.Module):
        super().__init__()
        self.segmenter, self.classifier = segmenter, classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _resize(x.float(), getattr(self.classifier, "work_size", None))
        lungs = self.segmenter(x).softmax(dim=1)[:, 1:2]
        return self.classifier(x * lungs)


@register_model("rds-joint")
def rds_joint(segmenter: dict, classifier: dict) -> nn.Module:
    """A registered segmenter and classifier joined (:class:`JointRds`); each dict holds ``name`` and its kwargs."""

    def build(spec: dict) -> nn.Module:
        return create_model(spec["name"], **{k: v for k, v in spec.items() if k != "name"})

    return JointRds(build(segmenter), build(classifier))


class CalibratedEnsemble(nn.Module):
    """Members' logits averaged, then divided by a ``temperature`` fitted on a validation split (temperature
    scaling, Guo et al. 2017), so the softmax reads as a calibrated probability. Returns logits (N, 2)."""

    def __init__(self, members: list[nn.Module], temperature: float = 1.0):
        super().__init__()
        self.members, self.temperature = nn.ModuleList(members), float(temperature)
        self.work_size = getattr(members[0], "work_size", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(x) for member in self.members]).mean(0) / self.temperature


@register_model("rds-ensemble")
def rds_ensemble(members: list[dict], temperature: float = 1.0) -> nn.Module:
    """Registered classifiers (each dict: ``name`` and its kwargs) averaged and temperature-scaled
    (:class:`CalibratedEnsemble`); made from trained bundles by :func:`nmkit.workflows.rds.calibrate.ensemble`."""
    return CalibratedEnsemble([create_model(m["name"], **{k: v for k, v in m.items() if k != "name"})
                               for m in members], temperature)
